"""One registry pattern for models, corruptions, corpora, reports and tasks.

Entries are declared as lazy ``"module:attr"`` strings (so importing avbench stays cheap),
and third-party packages can add entries through an entry-point group. Unknown names raise
:class:`~avbench.errors.UserError` with "did you mean" suggestions. Like lm-evaluation-harness's ``base_cls``, a
registry declares the type of its entries (``base``): an entry that is neither an instance nor a subclass of it is
refused with one clear line when it is first loaded, so a plugin registering the wrong object fails at lookup.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from avbench.errors import UserError, unknown

T = TypeVar("T")


def load_object(spec: str) -> object:
    """Import ``package.module:attr`` and return the attribute (clear error when it is missing)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UserError(f"expected 'package.module:Name', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"cannot import {module_name!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise UserError(f"module {module_name!r} has no attribute {attr!r}") from None


class Registry(Generic[T]):
    """Name → object map with lazy entries, entry points and suggestions on unknown names."""

    def __init__(self, kind: str, entry_point_group: str | None = None,
                 entries: Mapping[str, T | str] | None = None, base: type | None = None,
                 references: bool = False) -> None:
        """``base``: the type every entry must be an instance or a subclass of; ``references``: ``get`` also
        accepts an unregistered ``package.module:attr`` (checked against ``base`` the same way)."""
        self.kind = kind
        self.base = base
        self.references = references
        self._entries: dict[str, T | str] = dict(entries or {})
        self._group = entry_point_group
        self._plugins_loaded = entry_point_group is None

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self._group):
            self._entries.setdefault(ep.name, ep.value)

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._entries

    def _checked(self, name: str, entry: object) -> T:
        base = self.base
        if base is not None and not (isinstance(entry, base) or (isinstance(entry, type) and issubclass(entry, base))):
            what = entry.__name__ if isinstance(entry, type) else type(entry).__name__
            raise UserError(f"{self.kind} {name!r} is registered as {what}, not a {base.__name__}")
        return entry  # type: ignore[return-value]

    def get(self, name: str) -> T:
        """The entry ``name`` (loaded and type-checked on first use), or a ``package.module:attr`` reference."""
        self._load_plugins()
        if name not in self._entries:
            if self.references and ":" in name:
                return self._checked(name, load_object(name))
            raise unknown(self.kind, name, self._entries)
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = self._checked(name, load_object(entry))
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def items(self) -> Iterator[tuple[str, T]]:
        for name in self.names():
            yield name, self.get(name)
