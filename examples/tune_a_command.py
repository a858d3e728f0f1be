"""Tune a program's flags with a knob file: the command-line way, no Python target needed.

``examples/knobs/knobs.toml`` names four knobs of ``examples/knobs/bench.py`` (a stand-in for
a server benchmark that prints its p99 latency, with measurement noise), the command to run,
and the pattern that finds the measurement in its output. From a shell, the same run is::

    smacx run examples/knobs/knobs.toml --output-dir smacx_output

Started in several terminals at once, those commands share the run, with no master. Here the
run goes to a temporary folder, with a progress bar only on a terminal, and ``smacx show``
prints it before the folder goes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from smacx.cli import main

if __name__ == "__main__":
    knobs = Path(__file__).resolve().parent / "knobs" / "knobs.toml"
    with tempfile.TemporaryDirectory() as output:
        args = ["run", str(knobs), "--output-dir", output, "--n-trials", "40"]
        if not sys.stderr.isatty():
            args.append("--no-progress")
        status = main(args)
        print()
        main(["show", str(Path(output) / "knobs")])
    sys.exit(status)
