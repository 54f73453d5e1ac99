"""What a backend declares about itself, so the suite knows which clauses apply."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from spec.options import DEFAULT_MAX_AGE

__all__ = ["ALL_VALUE_TYPES", "Capabilities"]

#: Value kinds the suite can round-trip, by name (see ``conformance.strategies``).
ALL_VALUE_TYPES: frozenset[str] = frozenset(
    {"none", "bool", "int", "big_int", "float", "str", "bytes", "list", "dict", "int_keys"}
)


class Capabilities(BaseModel):
    """A backend's declared features. Undeclared features skip their clauses, with a reason.

    What the suite can observe it checks instead of trusting: ``server_side``
    follows what the store's cookie carries, ``regenerate_id`` comes with
    being server-side, ``purge_expired`` is whether the method exists, and a
    thread-safe store is exercised from several threads. A store that
    declares less than it has still meets those clauses; one that declares
    more fails them by name. A skipped clause keeps the store below the
    level that needs it (docs/spec.md, "Conformance levels").

    Frozen so a subclass cannot change what another subclass declared.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The cookie holds only a signed ID; the values live on the server (S-10).
    server_side: bool = False
    #: ``Session.regenerate_id()`` moves the values to a new ID (S-10.7).
    regenerate_id: bool = False
    #: The store has ``purge_expired() -> int`` (S-10.9).
    purge_expired: bool = False
    #: A session's own shorter ``max_age`` is enforced server-side (S-10.8).
    record_deadlines: bool = False
    #: Two stores from ``make_store`` share their sessions (same backend).
    shared_backend: bool = False
    #: Largest encoded cookie or record accepted, or ``None`` for no limit (S-9.11).
    max_value_bytes: int | None = 4096
    #: Server-side expiry (seconds) of stores from ``make_store`` (S-9.4).
    store_max_age: int = DEFAULT_MAX_AGE
    #: Value kinds the store's serializer round-trips (S-9.1).
    value_types: frozenset[str] = ALL_VALUE_TYPES
    #: The store may be used from several threads at once (S-12.1).
    thread_safe: bool = True
    #: ``session.user_id`` is indexed: ``user_sessions`` and ``revoke_user`` (S-10.11 to S-10.13).
    users: bool = False
    #: A save applies only its request's changes onto the current record, so
    #: concurrent requests of one session lose nothing (S-10.20, S-10.21).
    merges_concurrent_saves: bool = False
    #: Number of fresh IDs drawn when checking they are unpredictable (S-10.1);
    #: ``None``: the Hypothesis profile's (``conformance._base.id_sample_size``).
    id_sample_size: int | None = None
