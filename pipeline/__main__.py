"""``python -m pipeline``: the command line; Ctrl-C while the stack is still importing is a clean exit too."""

import sys

try:
    from pipeline.cli import main

    code = main()
except KeyboardInterrupt:
    print("interrupted while starting: nothing was read or written", file=sys.stderr)
    code = 130
sys.exit(code)
