"""Progress bars and log messages: one switch for everything the library shows while it works.

Library code never prints: it logs through ``logging.getLogger(__name__)`` (all under the
``sentiloc`` logger) and wraps long loops in :func:`progress_bar`. A bar is drawn on stderr only

* when the caller allows it (``progress=True``, the default of every function that has one),
* when the ``sentiloc`` logger is not set above INFO (``sentiloc -q``, or
  ``logging.getLogger("sentiloc").setLevel(logging.WARNING)`` in Python), and
* when stderr is a terminal, so redirected output and CI logs hold no bar debris.

The command line sets the logger's level and handler (:func:`configure_logging`, ``-q``/``-v``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

#: The logger every module of the package logs under (``sentiloc.<module>``).
LOGGER = "sentiloc"


def bars_allowed(enabled: bool = True) -> bool:
    """Whether a bar may be drawn: the caller allows it and the ``sentiloc`` logger is not set above INFO."""
    return enabled and logging.getLogger(LOGGER).level <= logging.INFO


def progress_bar(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs: Any) -> Any:
    """A ``tqdm`` bar over ``iterable`` (keyword arguments as ``tqdm``'s) that obeys the rules above.

    Disabled bars still iterate, count and accept ``set_postfix``, so callers never branch on them.
    """
    from tqdm.auto import tqdm

    # disable=None: tqdm switches the bar off itself when its file (stderr, as of this call) is no terminal
    return tqdm(iterable, disable=None if bars_allowed(enabled) else True, file=sys.stderr, **kwargs)


class _Formatter(logging.Formatter):
    """Plain messages for INFO; ``warning:``/``error:`` prefixes as the CLI's own errors have; names for DEBUG."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        if record.levelno < logging.INFO:
            return f"debug: {record.name}: {message}"
        return message


def configure_logging(level: int) -> None:
    """Send the ``sentiloc`` logger's messages of ``level`` and above to stderr (what ``-q``/``-v`` set).

    Repeated calls (one per CLI invocation, many in one test process) replace the handler rather
    than stacking them, and bind it to the current ``sys.stderr``.
    """
    logger = logging.getLogger(LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logger.handlers = [handler]
    logger.setLevel(level)
    logger.propagate = False
