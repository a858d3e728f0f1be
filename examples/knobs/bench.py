"""A stand-in for a program to tune: a "server benchmark" whose p99 latency depends on its
flags, with measurement noise that the --seed fixes. Run by examples/tune_a_command.py."""

from __future__ import annotations

import argparse
import math
import random

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--cache", choices=["lru", "lfu", "fifo"], required=True)
parser.add_argument("--batch", type=int, required=True)
parser.add_argument("--ratio", type=float, required=True)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

# Best near 12 threads, the lfu cache, batches of 8 and a ratio of 0.3: 10 ms.
latency = 10.0
latency += 6.0 * math.log2(args.threads / 12.0) ** 2
latency += {"lru": 2.0, "lfu": 0.0, "fifo": 5.0}[args.cache]
latency += 1.5 * abs(math.log2(args.batch / 8.0))
latency += 20.0 * (args.ratio - 0.3) ** 2
latency *= random.Random(args.seed).gauss(1.0, 0.03)  # a noisy measurement
print("requests: 10000  errors: 0")
print(f"p99 latency: {latency:.3f} ms")
