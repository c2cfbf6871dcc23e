"""User-facing errors.

Every mistake a user can make (unknown name, bad level, missing path) raises :class:`UserError`.
The CLI turns it into one red line and exit code 2, so nobody ever sees a traceback for bad input.
"""
from __future__ import annotations

import difflib
import errno
from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return a ' (did you mean X?)' hint, or '' when nothing is close."""
    choices = list(choices)
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=3, cutoff=0.5)
    lookup = {c.lower(): c for c in choices}
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(lookup[c]) for c in close) + "?)"


def unknown(kind: str, name: str, choices: Iterable[str]) -> UserError:
    """Build the standard 'unknown <kind>' error with suggestions and the full list."""
    choices = sorted(choices)
    return UserError(f"unknown {kind} {name!r}{did_you_mean(name, choices)}; choose from: {', '.join(choices)}")


class EnvironmentFault(Exception):
    """The machine, not the input, stopped the command (a full disk, a read-only folder, a file-size limit, a killed
    worker): reported as one line, exit code 1. Running the same command again once the cause is gone resumes."""


# errno values that mean "this machine cannot do it now", each with the words a user acts on
_FAULTS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large (a file-size limit, e.g. ulimit -f)",
    errno.EIO: "input/output error",
    errno.ENOMEM: "out of memory",
}


def environment_fault(exc: BaseException) -> EnvironmentFault | None:
    """The one-line fault an operating-system error stands for (None when it is not one, i.e. a bug to report
    with its traceback). The file is named when the error knows it."""
    if isinstance(exc, EnvironmentFault):
        return exc
    if isinstance(exc, MemoryError):
        return EnvironmentFault("out of memory")
    if isinstance(exc, OSError) and exc.errno in _FAULTS:
        where = f"{exc.filename}: " if exc.filename else ""
        return EnvironmentFault(f"{where}{_FAULTS[exc.errno]}")
    return None
