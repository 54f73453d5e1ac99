"""What a session keeps about itself beside its values: its own options and its age.

A session's own ``max_age`` ("remember me: off" is ``max_age=0``) must hold
for the session's whole life, not for one response: otherwise the next
write, say reading a flash, would turn a browser-session cookie into a
30-day one, keeping a user signed in on a shared computer after they chose
not to be (S-9.21). Likewise the idle and absolute timeouts need to know
when the session was created and last used (S-9.22, S-9.23), and a cookie
store has nowhere else to keep that. So these facts are stored with the
values, under reserved keys in the ``_sessionspec.`` namespace, and taken
out again on every load: ``session.values`` never shows them.

Each key is written only when it is needed: ``max_age`` when it differs
from the store's default, ``created_at`` when the store tracks it,
``used_at`` when an idle timeout is on, ``user_id`` when a user is
logged in. A default session's payload, and
therefore its cookie, stays byte-identical to gorilla's. A Go service
reading the payload sees a few extra integer values and keeps them when it
saves the session again; it never changes what Go decodes for other keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, cast

from spec import Options, Session, SessionKey, SessionValue
from spec.errors import ConfigurationError, DeserializeError, SerializeError
from spec.session import check_user_id

__all__ = [
    "CREATED_AT_KEY",
    "MAX_AGE_KEY",
    "USED_AT_KEY",
    "USER_ID_KEY",
    "Lifetimes",
    "Meta",
    "read_meta",
    "write_meta",
]

#: Every reserved value key starts with this; applications may not use it.
RESERVED_PREFIX = "_sessionspec."
#: The session's own ``max_age`` (S-9.21).
MAX_AGE_KEY = "_sessionspec.max_age"
#: When the session was first saved, Unix seconds (S-9.22).
CREATED_AT_KEY = "_sessionspec.created_at"
#: When a request last used the session, Unix seconds (S-9.23).
USED_AT_KEY = "_sessionspec.used_at"
#: Whose session it is (``session.user_id``, S-10.11).
USER_ID_KEY = "_sessionspec.user_id"


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """A store's session time limits, in seconds (0 = off).

    ``track_created`` keeps ``created_at`` even with both limits off: stores
    whose records are ours alone do; the cookie and filesystem stores, whose
    bytes Go reads too, keep it only when a limit needs it.
    """

    absolute_timeout: int = 0
    idle_timeout: int = 0
    track_created: bool = False

    def __post_init__(self) -> None:
        for name in ("absolute_timeout", "idle_timeout"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigurationError(
                    f"{name} must be a whole number of seconds >= 0 (0 = off); got {value!r}"
                )

    @property
    def keeps_created(self) -> bool:
        """Whether sessions carry ``created_at``."""
        return self.track_created or self.absolute_timeout > 0 or self.idle_timeout > 0


class Meta(NamedTuple):
    """What :func:`read_meta` took out of a loaded payload."""

    options: Options
    created_at: int | None
    used_at: int | None
    user_id: str | None = None


def write_meta(
    session: Session, defaults: Options, lifetimes: Lifetimes, now: int
) -> dict[SessionKey, SessionValue]:
    """The mapping to encode for ``session`` at ``now``: its values plus what must outlive it.

    A value the application put under a reserved key is refused rather than
    dropped or overwritten, so nothing it stored is lost in silence.
    """
    values: dict[SessionKey, SessionValue] = dict(session.values)
    for key in values:
        if isinstance(key, str) and key.startswith(RESERVED_PREFIX):
            raise SerializeError(
                f"value keys starting with {RESERVED_PREFIX!r} are reserved for what the "
                "store keeps about the session (its own max_age, created_at, last use); "
                "rename the key, or set session.options for max_age",
                path=f"values[{key!r}]",
            )
    max_age = session.options.max_age
    if max_age != defaults.max_age and max_age >= 0:
        values[MAX_AGE_KEY] = max_age
    if lifetimes.keeps_created:
        values[CREATED_AT_KEY] = session.created_at if session.created_at is not None else now
    if lifetimes.idle_timeout:
        values[USED_AT_KEY] = now
    if session.user_id is not None:
        values[USER_ID_KEY] = session.user_id
    return values


def read_meta(values: dict[SessionKey, SessionValue], defaults: Options) -> Meta:
    """Take the reserved entries out of ``values`` and return what they said.

    The payload is authentic (its MAC verified), so a malformed entry means
    another writer with our keys stored something we do not understand: the
    cookie is refused as undecodable rather than trusted or crashed on.
    """
    options = defaults
    if MAX_AGE_KEY in values:
        max_age = _stored_int(values.pop(MAX_AGE_KEY), MAX_AGE_KEY)
        if max_age != defaults.max_age:
            try:
                options = defaults.replace(max_age=max_age)
            except ValueError as exc:  # beyond what Options accepts (S-2.6)
                raise DeserializeError(f"stored {MAX_AGE_KEY!r} is out of range: {exc}") from exc
    created_at = used_at = None
    if CREATED_AT_KEY in values:
        created_at = _stored_int(values.pop(CREATED_AT_KEY), CREATED_AT_KEY)
    if USED_AT_KEY in values:
        used_at = _stored_int(values.pop(USED_AT_KEY), USED_AT_KEY)
    user_id = None
    if USER_ID_KEY in values:
        user_id = values.pop(USER_ID_KEY)
        try:
            check_user_id(user_id)
        except ConfigurationError:
            raise DeserializeError(f"stored {USER_ID_KEY!r} is not a user ID") from None
    return Meta(options, created_at, used_at, cast("str | None", user_id))


def _stored_int(value: object, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise DeserializeError(f"stored {key!r} must be an int >= 0, got {value!r}")
    return value
