"""Issue 5 (flow control): a provider capped at 64 in flight, an rpm budget, and the limiter's own cost.

Runs the ``rate-limited`` and ``budget`` scenarios of ``sharedlm bench`` and the overhead scenario's on/off pair
(sharedlm with adaptive=True against adaptive=False), and judges the issue-5 targets: no call fails, within
1.25x of the ideal time, 429s at most 5% of successful requests; zero 429s and throughput within 10% of rpm;
flow control's own cost within 5%. plain-shared runs in the same run for contrast.

    python benchmarks/bench_flow.py [--quick] [--json FILE]

Exit code 0 when every target is met, 1 when one is missed.
"""

import sys

from sharedlm.bench._script import script_main

if __name__ == "__main__":
    sys.exit(script_main(None, description=__doc__, scenarios=("rate-limited", "budget", "overhead"), issues=(5,),
                         variants={"overhead": ("sharedlm", "sharedlm-flow-off")}))
