"""User-facing errors.

Every mistake a user can make (unknown name, bad level, missing path) raises :class:`UserError`.
The CLI turns it into one red line and exit code 2, so nobody ever sees a traceback for bad input.
"""
from __future__ import annotations

import difflib
import errno
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


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


def validation_error(where: object, exc: Exception) -> UserError:
    """A typed record's validation failure (a pydantic ``ValidationError``) as one line naming the file and the
    first wrong field, e.g. ``entry.json: field 'protocol.seeds': input should be a valid list (got 'x')``.

    Duck-typed on ``exc.errors()`` so that this module, which every command imports, does not import pydantic."""
    errors = exc.errors()  # type: ignore[attr-defined]
    error = errors[0]
    field = ".".join(str(part) for part in error["loc"]) or "(record)"
    if error.get("type") in ("extra_forbidden", "unexpected_keyword_argument"):
        message = "unknown field (a typo?)"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
    value = error.get("input")
    text = repr(value) if len(repr(value)) <= 80 else repr(value)[:79] + "…"
    shown = "" if isinstance(value, dict) else f" (got {text})"  # a whole object: its field says enough
    more = f"; {len(errors) - 1} more problem(s)" if len(errors) > 1 else ""
    return UserError(f"{where}: field {field!r}: {message}{shown}{more}")


def validated(validate: Callable[[dict[str, Any]], T], data: Any, where: object,
              not_an_object: str = "expected a JSON object") -> T:
    """``validate(data)`` (a typed record's pydantic validation) for a parsed JSON/TOML object, every failure one
    line naming ``where``: not an object at all (``not_an_object``), or its first wrong field
    (:func:`validation_error`). One place for what every reader of run.json, meta.json, entries and run
    configurations does. A pydantic ``ValidationError`` is a ``ValueError`` with ``errors()``; other errors pass."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: {not_an_object}")
    try:
        return validate(data)
    except ValueError as exc:
        if not callable(getattr(exc, "errors", None)):
            raise
        raise validation_error(where, exc) from None


def read_json(path: Path) -> Any:
    """A JSON file a user or a run wrote (a byte-order mark allowed), parsed; unreadable or invalid is one
    :class:`UserError` line naming the file. The one reader behind run.json, run configurations and entries."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
