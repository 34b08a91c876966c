"""User-facing errors.

Anything a user can fix (a bad file, a wrong flag, a clobbered output) is raised as a
:class:`SentilocError` at the boundary where it is detected. The CLI prints its message and
exits with status 1 instead of showing a traceback, so every message must name the file (or
option) at fault and say what to do about it.
"""


class SentilocError(Exception):
    """An error caused by user input; the message names the file and the fix."""
