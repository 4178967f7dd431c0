"""``python -m tests.benchmarks.peak REPORT -m MODULE ARGS...``: run MODULE as ``__main__``
and write this process's peak RSS (VmHWM, MiB) and exit code to REPORT (JSON).

Why not ``ru_maxrss`` from ``wait4``: Linux carries the parent's high-water mark into a
forked child's ``ru_maxrss`` (the old mm's peak is kept at exec), so a large benchmark
driver would inflate every case. VmHWM belongs to the mm made at exec: this process only.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path


def vm_hwm_mib() -> float:
    """Peak resident set of this process (MiB) from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: peak RSS needs Linux")


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "-m":
        print(__doc__, file=sys.stderr)
        return 2
    report, module = Path(sys.argv[1]), sys.argv[3]
    sys.argv = [module, *sys.argv[4:]]
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    report.write_text(json.dumps({"peak_rss_mib": vm_hwm_mib(), "exit_code": code}))
    return code


if __name__ == "__main__":
    sys.exit(main())
