"""sdgcube's pipeline: a recipe in, a product out (``pipeline.run``)."""

import os as _os
import tempfile as _tempfile

# With a home that cannot be written (a locked-down server account), matplotlib would warn on every
# import that it made a temporary config directory; give it one quietly instead.
if "MPLCONFIGDIR" not in _os.environ and not _os.access(_os.path.expanduser("~"), _os.W_OK):
    _os.environ["MPLCONFIGDIR"] = _tempfile.mkdtemp(prefix="sdgcube-matplotlib-")
