"""Shared fixtures: small search spaces with closed-form optima, and a PostgreSQL server."""

from __future__ import annotations

import glob
import math
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from ConfigSpace import (
    AndConjunction,
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    GreaterThanCondition,
    InCondition,
    Integer,
    NotEqualsCondition,
    OrConjunction,
)


@pytest.fixture
def space() -> ConfigurationSpace:
    """Two floats on [-5, 5]."""
    return ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)


@pytest.fixture
def mixed_space() -> ConfigurationSpace:
    """A float, a log-scaled int, a categorical, a conditional child and a forbidden clause."""
    cs = ConfigurationSpace(seed=0)
    kind = Categorical("kind", ["a", "b", "c"])
    lr = Float("lr", (1e-4, 1.0), log=True)
    depth = Integer("depth", (1, 64), log=True)
    child = Float("child", (0.0, 1.0))
    cs.add([kind, lr, depth, child])
    cs.add(EqualsCondition(child, kind, "a"))
    cs.add(
        ForbiddenAndConjunction(ForbiddenEqualsClause(kind, "c"), ForbiddenEqualsClause(depth, 1))
    )
    return cs


def quadratic(config, seed: int = 0) -> float:  # type: ignore[no-untyped-def]
    """(x - 1)^2 + (y + 2)^2: minimum 0 at x = 1, y = -2."""
    return (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2


def branin(config, seed: int = 0) -> float:  # type: ignore[no-untyped-def]
    """Branin on x in [-5, 10], y in [0, 15]: minimum 0.397887."""
    x, y = config["x"], config["y"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def cancels_itself(config, seed: int = 0) -> float:  # type: ignore[no-untyped-def]
    """asyncio code whose task is cancelled: asyncio.run raises CancelledError, a BaseException."""
    import asyncio

    async def work() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)

    asyncio.run(work())
    return float(seed)


def space_with_inactive_parents(finite: bool) -> ConfigurationSpace:
    """``q`` is active only for p > 0.5; ``t`` hangs on an OR over ``r`` and ``q``, and ``u``
    on ``q != 3``, which ConfigSpace counts as holding while ``q`` is inactive."""
    cs = ConfigurationSpace(seed=0)
    p = Categorical("p", [0.2, 0.9], default=0.9) if finite else Float("p", (0, 1), default=0.9)
    q, r = Integer("q", (1, 5)), Categorical("r", ["u", "v"])
    t, u = Categorical("t", ["m", "n"]), Categorical("u", ["a", "b"])
    cs.add([p, q, r, t, u])
    parent = EqualsCondition(q, p, 0.9) if finite else GreaterThanCondition(q, p, 0.5)
    cs.add([parent, NotEqualsCondition(u, q, 3)])
    cs.add(OrConjunction(EqualsCondition(t, r, "u"), InCondition(t, q, [2, 3, 4])))
    return cs


def space_with_a_conjunction_on_a_conditional_parent(finite: bool) -> ConfigurationSpace:
    """``h7`` hangs on an AND over ``h0`` and ``h4``, which is active only for ``h1 == "c0"``,
    itself only for ``h0`` in c0, c1: ConfigSpace orders that AND before ``h4``'s own
    condition, and its sampler left ``h7`` active where ``h4`` had been switched off."""
    cs = ConfigurationSpace(seed=0)
    h0, h1 = Categorical("h0", ["c0", "c1", "c2"]), Categorical("h1", ["c0", "c1", "c2"])
    h4 = Categorical("h4", ["c0", "c1"])
    h7 = Categorical("h7", ["p", "q"]) if finite else Float("h7", (0.0, 1.0))
    cs.add([h0, h1, h4, h7])
    cs.add([InCondition(h1, h0, ["c0", "c1"]), EqualsCondition(h4, h1, "c0")])
    cs.add(AndConjunction(InCondition(h7, h4, ["c0", "c1"]), EqualsCondition(h7, h0, "c1")))
    return cs


def ended(pid: int, timeout: float = 10.0) -> bool:
    """Whether process ``pid`` ends (or is a zombie, where no init reaps it) in ``timeout``
    seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _postgres_bin() -> Path | None:
    """The folder of the PostgreSQL server's programs (initdb, pg_ctl), if installed."""
    found = shutil.which("pg_ctl")
    candidates = [found] if found else []
    installed = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    # (the newest first: by the version's number, 15 after 9.6)
    candidates += sorted(installed, key=lambda p: _version_key(Path(p).parts[-3]), reverse=True)
    for candidate in candidates:
        folder = Path(candidate).resolve().parent
        if (folder / "initdb").exists():
            return folder
    return None


@dataclass
class PostgresServer:
    """A PostgreSQL server the tests started: the URL of its maintenance database, and a way
    to restart it (as an administrator's restart would, closing every connection)."""

    url: str
    restart: Callable[[], None]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on loopback for this test session (each pytest-xdist worker
    starts its own), with fsync off. Started as the ``postgres`` user when the tests run as
    root (the server refuses root)."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server here (initdb, pg_ctl): apt-get install postgresql")
    pytest.importorskip("psycopg", reason="psycopg is missing: pip install 'smacx[postgres]'")
    root = Path(tempfile.mkdtemp(prefix="smacx-pg-"))
    user = None
    if os.geteuid() == 0:
        user = "postgres" if _has_user("postgres") else "nobody"
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"

    def run(*args: str) -> None:
        done = subprocess.run(
            [str(a) for a in args], user=user, capture_output=True, text=True, cwd=root
        )
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")

    # (--no-locale: a LANG of a locale the machine lacks, as on many CI images, fails initdb)
    flags = ["-A", "trust", "-U", "smacx", "-E", "UTF8", "--no-locale", "--no-sync"]
    run(bindir / "initdb", "-D", data, *flags)
    port = 0
    for _ in range(5):  # a free port may be taken before the server binds it
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        options = f"-h 127.0.0.1 -p {port} -k {root} -F -c max_connections=200"
        (root / "log").unlink(missing_ok=True)  # (a failed attempt's lines are not this one's)
        try:
            run(bindir / "pg_ctl", "-D", data, "-l", root / "log", "-w", "-o", options, "start")
            break
        except RuntimeError:
            if _has_log_line(root / "log", "could not bind"):
                continue
            raise
    else:
        raise RuntimeError(f"the PostgreSQL server found no free port: {root / 'log'}")
    try:
        yield PostgresServer(
            f"postgresql://smacx@127.0.0.1:{port}/postgres",
            lambda: run(
                bindir / "pg_ctl",
                "-D",
                data,
                "-l",
                root / "log",
                "-m",
                "fast",
                "-w",
                "-o",
                options,
                "restart",
            ),
        )
    finally:
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            user=user,
            capture_output=True,
            cwd=root,
        )
        shutil.rmtree(root, ignore_errors=True)


def _version_key(version: str) -> tuple[int, ...]:
    """A PostgreSQL version folder's name (``"15"``, ``"9.6"``) as numbers, for sorting."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _has_log_line(log: Path, text: str) -> bool:
    try:
        return text in log.read_text()
    except OSError:
        return False


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped after the test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield postgres_server.url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def optimize_keeps_what_finished(smac: Any, before: dict[Any, Any], n_trials: int) -> None:
    """Run a continued run's ``optimize()`` to ``n_trials`` finished trials, none left
    running, and check that each trial in ``before`` (its results when continued) that had
    succeeded is kept as it was, not run again."""
    smac.optimize()
    after = dict(smac.runhistory.items())
    assert smac.runhistory.n_finished == n_trials and smac.runhistory.n_running == 0
    for key, value in before.items():
        if value.status.name == "SUCCESS":
            assert after[key] == value  # kept, and not run again
