"""The whole benchmark suite: the same as ``sharedlm bench`` (every scenario, every claim of issues 2, 5 and 6).

    python benchmarks/bench_suite.py [--quick] [--scenario NAME ...] [--workflows N ...] [--json FILE] [--plot FILE.png]
"""

import sys

from sharedlm._cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
