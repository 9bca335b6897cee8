"""How library code reports progress without printing: the CLI passes a Progress."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, key: str, label: str, total: float | None) -> None: ...

    def advance(self, key: str, amount: float) -> None: ...

    def finish(self, key: str) -> None: ...


class NullProgress:
    """The default: report nothing."""

    def start(self, key: str, label: str, total: float | None) -> None:
        pass

    def advance(self, key: str, amount: float) -> None:
        pass

    def finish(self, key: str) -> None:
        pass
