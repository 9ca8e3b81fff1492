"""Named classes that users extend from their own modules (attacks, rules)."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Classes by their ``name`` attribute."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.classes: dict[str, type[T]] = {}

    def register(self, cls: type[T]) -> type[T]:
        """Class decorator: makes ``cls`` available under ``cls.name``."""
        name = getattr(cls, "name", "")
        if not name or name in self.classes:
            raise ValueError(f"{self.kind} name {name!r} is empty or taken")
        self.classes[name] = cls
        return cls

    def get(self, name: str) -> T:
        """A fresh instance by name; ``ValueError`` lists the known names otherwise."""
        if name not in self.classes:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self.classes))}")
        return self.classes[name]()
