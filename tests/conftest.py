"""Shared fixtures: small search spaces with closed-form optima."""

from __future__ import annotations

import math
import time

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
