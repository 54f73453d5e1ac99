"""A store with wrong signatures: mypy must reject assigning it to Store."""

from __future__ import annotations

from spec import Request, Session, Store


class BrokenStore:
    def get(self, request: Request, name: str) -> Session:
        return Session(name=name)

    def new(self, request: Request) -> Session:  # missing the name parameter
        return Session(name="x")

    def save(self, request: Request, session: Session) -> None:  # missing the response
        pass


STORE: Store = BrokenStore()
