"""Minimize the Branin function (three global minima, cost 0.397887) with smacx's defaults.

The run is kept in ``smacx_output/quickstart`` (SQLite): run the script again and it continues the
same run instead of starting over; pass ``--fresh`` to start over.
"""

from __future__ import annotations

import math
import sys

from ConfigSpace import ConfigurationSpace

from smacx import SMAC, Scenario


def branin(config, seed: int) -> float:
    x, y = config["x"], config["y"]
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return a * (y - b * x**2 + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s


if __name__ == "__main__":
    space = ConfigurationSpace({"x": (-5.0, 10.0), "y": (0.0, 15.0)}, seed=0)
    scenario = Scenario(space, name="quickstart", n_trials=60, deterministic=True, seed=0)
    smac = SMAC(scenario, branin, overwrite="--fresh" in sys.argv)
    incumbent = smac.optimize()  # None only if no trial succeeded
    print(smac.summary())
    if incumbent is not None:
        x, y, cost = incumbent["x"], incumbent["y"], branin(incumbent, 0)
        print(f"best: x={x:.4f} y={y:.4f} cost={cost:.6f}")
