"""A third-party store written only against sessionspec's public protocols.

The typing test runs mypy --strict (plus --disallow-any-expr) on this file:
it must pass with no cast and no Any reaching user code.
"""

from __future__ import annotations

from spec import Cookie, Options, Registry, Request, ResponseWriter, Session, SessionValue, Store


class DictStore:
    """Keeps session values in a dict keyed by cookie value (for the typing test only)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str | int, SessionValue]] = {}
        self.options = Options()

    def get(self, request: Request, name: str) -> Session:
        return Registry.of(request).get(self, name)

    def new(self, request: Request, name: str) -> Session:
        session = Session(name=name, options=self.options)
        for value in request.cookie_values(name):
            stored = self.data.get(value)
            if stored is not None:
                session.values = dict(stored)
                session.id = value
                session.is_new = False
                break
        return session

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        if not session.id:
            session.id = "fixed"
        self.data[session.id] = dict(session.values)
        response.set_cookie(Cookie.for_session(session.name, session.id, session.options, 0.0))


def use(store: Store, request: Request, response: ResponseWriter) -> list[SessionValue]:
    session = store.get(request, "app")
    session.values["user"] = "alice"
    session.add_flash("hello")
    count = session.values.get("count", 0)
    if isinstance(count, int):
        session.values["count"] = count + 1
    flashes: list[SessionValue] = session.flashes()
    session.save(request, response)
    return flashes


STORE: Store = DictStore()
