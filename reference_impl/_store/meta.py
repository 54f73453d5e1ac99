"""What a session keeps about itself beside its values: its own options (S-9.21).

A session's own ``max_age`` ("remember me: off" is ``max_age=0``) must hold
for the session's whole life, not for one response: otherwise the next
write, say reading a flash, would turn a browser-session cookie into a
30-day one, keeping a user signed in on a shared computer after they chose
not to be. So it is stored with the values, under a reserved key, and
restored on every load.

The key is written only when the session's ``max_age`` differs from the
store's default, so a default session's payload, and therefore its cookie,
stays byte-identical to gorilla's. A Go service reading the payload sees one
extra integer value; it never changes what Go decodes for the other keys.
"""

from __future__ import annotations

from spec import Options, Session, SessionKey
from spec.errors import DeserializeError, SerializeError

__all__ = ["MAX_AGE_KEY", "restore_options", "stored_values"]

#: The reserved value key a session's own ``max_age`` is kept under.
MAX_AGE_KEY = "_sessionspec.max_age"


def stored_values(session: Session, defaults: Options) -> dict[SessionKey, object]:
    """The mapping to encode for ``session``: its values plus what must outlive the response.

    A value the application put under the reserved key is refused rather
    than dropped or overwritten, so nothing it stored is lost in silence.
    """
    values: dict[SessionKey, object] = dict(session.values)
    if MAX_AGE_KEY in values:
        raise SerializeError(
            f"the value key {MAX_AGE_KEY!r} is reserved for the session's own max_age; "
            "set session.options = session.options.replace(max_age=...) instead",
            path=f"values[{MAX_AGE_KEY!r}]",
        )
    max_age = session.options.max_age
    if max_age != defaults.max_age and max_age >= 0:
        values[MAX_AGE_KEY] = max_age
    return values


def restore_options(values: dict[SessionKey, object], defaults: Options) -> Options:
    """Take the stored ``max_age`` out of ``values`` and return the session's options.

    The payload is authentic (its MAC verified), so a malformed entry means
    another writer with our keys stored something we do not understand: the
    cookie is refused as undecodable rather than trusted or crashed on.
    """
    if MAX_AGE_KEY not in values:
        return defaults
    max_age = values.pop(MAX_AGE_KEY)
    if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0:
        raise DeserializeError(f"stored {MAX_AGE_KEY!r} must be an int >= 0, got {max_age!r}")
    if max_age == defaults.max_age:
        return defaults
    try:
        return defaults.replace(max_age=max_age)
    except ValueError as exc:  # beyond what Options accepts (S-2.6)
        raise DeserializeError(f"stored {MAX_AGE_KEY!r} is out of range: {exc}") from exc
