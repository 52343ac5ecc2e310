"""Names to builders: the one mechanism by which configs and command lines select code.

Every choice a config makes by name (a model part, a loss recipe, an optimizer, a scheduler, a
task, a feature extractor, a reference checkpoint layout) is one ``Registry``. The tables live at
the composition layer that reads the config (``models/factory.py``, ``training/...``), not in the
modules that implement the parts: an encoder stays a plain ``nn.Module`` plus a ``build_*``
function that knows nothing about names.

An entry is either the builder itself or ``"package.module:attribute"``, imported on first use, so
optional parts (AVE, MM-CSE, extractors with extra dependencies) cost nothing until chosen and a
missing optional dependency becomes a one-line ``ConfigError``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, cast

from avvp.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """An ordered ``name -> builder`` table for one kind of thing (``kind`` names it in errors)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def add(self, name: str, entry: T | str) -> None:
        """Register ``entry`` (a builder, or ``"module:attribute"`` to import when first used)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if isinstance(entry, str) and ":" not in entry:
            raise ValueError(f"{self.kind} {name!r}: a lazy entry is 'module:attribute'")
        self._entries[name] = entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(entry: T) -> T:
            self.add(name, entry)
            return entry

        return decorate

    def get(self, name: object, *, where: str | None = None) -> T:
        """The builder called ``name``; a ``ConfigError`` naming ``where`` (the config key) and
        the choices when there is none."""
        key = where or self.kind
        if not isinstance(name, str) or name not in self._entries:
            raise ConfigError(f"{key}: unknown {name!r} (one of {', '.join(self._entries)})")
        entry = self._entries[name]
        if isinstance(entry, str):
            module_name, attribute = entry.split(":", 1)
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise ConfigError(
                    f"{key}={name!r} is not available in this installation ({exc})"
                ) from None
            entry = cast(T, getattr(module, attribute))
            self._entries[name] = entry
        return entry

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
