"""``python -m tests.support.poison_worker``: the real worker, whose decode process misbehaves on marked inputs.

What `make chaos` runs on its instances (tests/test_chaos.py): hangs and
crashes come from tests/worker/poison.py, inside the worker's own decode
process, so the isolation under test is the real one.
"""

from __future__ import annotations

import sys

import worker.job
from tests.worker.poison import decode_or_misbehave
from worker.__main__ import main

worker.job.decode = decode_or_misbehave  # what each JobRunner hands its decode process

if __name__ == "__main__":
    sys.exit(main())
