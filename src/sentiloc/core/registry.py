"""A name -> component table: tasks, datasets, models, objectives, evaluators, extractors, executors.

Each kind of component owns one :class:`Registry`; an implementation registers itself where it
is defined (``@MODELS.register("fsenet")``), so adding a method adds files and never edits an
``if``/``elif`` chain. Looking up an unknown name is a user error that lists the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from sentiloc.core.errors import SentilocError

T = TypeVar("T")
C = TypeVar("C", bound=type)


class Registry(Generic[T]):
    """Components of one kind, by name.

    Args:
        kind: what the components are, for error messages (``"model"``, ``"objective"``, ...).
        option: the config key or flag that names one (``"model.name"``), for error messages.
    """

    def __init__(self, kind: str, option: str | None = None) -> None:
        self.kind = kind
        self.option = option or kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; a name is registered once."""

        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        """The component called ``name``, or an error listing the known names."""
        try:
            return self._entries[name]
        except KeyError:
            raise SentilocError(
                f"{self.option} {name!r}: unknown {self.kind}; known: {', '.join(self.names()) or 'none'}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class Component:
    """A registered class and the config dataclass its options are typed with."""

    config: type
    cls: type


def register_component(registry: Registry[Component], name: str, config_cls: type) -> Callable[[C], C]:
    """Class decorator registering ``cls`` with ``config_cls`` under ``name`` in ``registry``."""

    def add(cls: C) -> C:
        registry.register(name)(Component(config_cls, cls))
        return cls

    return add
