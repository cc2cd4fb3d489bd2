"""A worker stand-in for tests: dies like a segfaulting runtime for batch 4, else runs the real worker."""

import json
import os
import signal
import sys

from inferperf.measure import worker

job = json.loads(sys.stdin.read())
configs = [job.get("config")] + [c.get("config") for c in job.get("candidates", [])]
if any(c and c.get("batch") == 4 for c in configs):
    os.kill(os.getpid(), signal.SIGSEGV)
sys.stdin = __import__("io").StringIO(json.dumps(job))
worker.main()
