"""Generated sections of a README: the text between ``<!-- report:NAME -->`` and ``<!-- /report:NAME -->``, owned by
the report ``NAME`` and rewritten whole by ``avbench report NAME`` (the rest of the file is never touched).

A report that owns a section (:attr:`avbench.reports.base.Report.readme`) checks the markers before anything is
run or built, so a README without them costs no training; the file is replaced atomically.
"""
from __future__ import annotations

from pathlib import Path

from avbench.atomic import write_text
from avbench.errors import UserError

ROOT_README = Path(__file__).resolve().parents[1] / "README.md"  # the checkout's README (absent in a wheel)


def markers(name: str) -> tuple[str, str]:
    return f"<!-- report:{name} -->", f"<!-- /report:{name} -->"


def default_readme() -> Path | None:
    """The README of the avbench checkout this code runs from, or None for an installed wheel."""
    return ROOT_README if ROOT_README.is_file() else None


def check(path: Path, name: str) -> str:
    """The README's text, refused unless it holds report ``name``'s two markers once each, in order."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read README {path}: {exc}") from None
    start, end = markers(name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise UserError(f"{path} has no generated section for report {name!r}: it needs the lines {start} and {end} "
                        "once each, in that order (or pass --readme with another file)")
    return text


def replace_section(path: Path, name: str, section: str) -> Path:
    """Put ``section`` between report ``name``'s markers in ``path`` (the markers and everything else kept)."""
    text = check(path, name)
    start, end = markers(name)
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    write_text(path, f"{head}{start}\n{section.strip()}\n{end}{tail}")
    return Path(path)
