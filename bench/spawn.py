"""Run one command and report ITS OWN peak memory and CPU time (used by run.py's `child`).

    python bench/spawn.py REPORT.json CMD [ARGS…]

Linux carries a process's peak resident set size across fork and exec: a child started by
run.py (which holds a generated database's rows, 150 MB and more) reports at least run.py's
size as its `ru_maxrss`. Started from this small process instead, the measured command's
peak is its own. Standard streams are inherited; the exit code is the command's. REPORT gets
{"wall_s", "maxrss_kb", "cpu_s"}: the wall clock from spawn to exit (this helper's own
start-up is outside it) and the command's user + system time.
"""

import json
import os
import sys
import time

report, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.posix_spawnp(cmd[0], cmd, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(report, "w") as f:
    json.dump({"wall_s": wall, "maxrss_kb": usage.ru_maxrss,
               "cpu_s": usage.ru_utime + usage.ru_stime}, f)
sys.exit(os.waitstatus_to_exitcode(status))
