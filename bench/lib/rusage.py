"""Runs a command and writes what the kernel counted for it (wait4): exit status, wall time from
fork to exit, user + system CPU time in microseconds and peak RSS in KB, as one line
"STATUS WALL_US CPU_US MAXRSS_KB" to OUT. Used by bench/lib/harness.mjs runCommand: /usr/bin/time
prints CPU time in 10 ms steps, too coarse for a process that uses 60-200 ms.

Peak RSS is never below this Python's own (about 10 MB): Linux keeps a process's high-water mark
across exec. Every command the benches measure is above it (notary 12 MB, Node 39 MB and up).

    python3 rusage.py OUT CMD [ARGS...]
"""

import os
import sys
import time

out, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter_ns()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall_us = (time.perf_counter_ns() - start) // 1000
cpu_us = round((ru.ru_utime + ru.ru_stime) * 1_000_000)
with open(out, "w") as f:
    f.write(f"{os.waitstatus_to_exitcode(status)} {wall_us} {cpu_us} {ru.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
