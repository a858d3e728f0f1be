"""``python -m smacx``: the ``smacx`` command (see :mod:`smacx.cli`)."""

from __future__ import annotations

import sys

from smacx.cli import main

if __name__ == "__main__":
    sys.exit(main())
