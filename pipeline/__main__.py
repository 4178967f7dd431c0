"""``python -m pipeline``: the command line; Ctrl-C while the stack is still importing is a clean exit too."""

import os
import sys

try:
    from pipeline.cli import main

    code = main()
except KeyboardInterrupt:
    print("interrupted while starting: nothing was read or written", file=sys.stderr, flush=True)
    # os._exit: CPython kills itself with SIGINT at exit (status -2, not 130) when the interrupt first left a
    # PyRun_* call inside an import, even though it was caught here; nothing has started that needs a cleanup
    os._exit(130)
sys.exit(code)
