"""Issue 2 (the core): sharedlm against a plain shared dspy.LM, at 1 s latency and at zero latency.

Runs the ``latency`` and ``overhead`` scenarios of ``sharedlm bench`` and judges the issue-2 targets: 1,000
workflows at 1 s latency at least 4x faster than plain-shared; zero-latency calls/s at least 2x plain-shared and
at least 80% of an instant engine; and reports peak RSS per 1,000 in-flight workflows.

    python benchmarks/bench_core.py [--quick] [--json FILE] [--plot FILE.png]

Exit code 0 when every target is met, 1 when one is missed.
"""

import sys

from sharedlm.bench._script import script_main

if __name__ == "__main__":
    sys.exit(script_main(None, description=__doc__, scenarios=("latency", "overhead"), issues=(2,)))
