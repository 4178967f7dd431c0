"""The one base class of failures a user can fix.

Every error that says what is wrong with an input (a recipe key, an item, a file, a zone, a
destination) derives from ``SdgcubeError``; the command line prints those as one line and
nothing else, so any other exception is a bug and is shown as one, with its traceback.
``hint`` is the fix when it is kept apart from the message (it is printed after it).
"""

from __future__ import annotations


class SdgcubeError(Exception):
    """A failure caused by the input or the environment, with what to change."""

    def __init__(self, message: str = "", hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message}; {self.hint}" if self.hint else message
