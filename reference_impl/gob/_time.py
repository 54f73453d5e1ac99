"""Go's ``time.Time`` in Python, exactly (see :class:`GoTime`)."""

from __future__ import annotations

import datetime
import struct
from dataclasses import dataclass

from reference_impl._codec.primitives import INT64_MAX, INT64_MIN

__all__ = ["ZERO_TIME", "GoTime"]

# Seconds from Go's internal epoch (January 1, year 1, UTC) to the Unix epoch.
_UNIX_TO_INTERNAL = 62135596800
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_TIME_V1, _TIME_V2 = 1, 2


@dataclass(frozen=True, slots=True)
class GoTime:
    """A Go ``time.Time``, exactly: nanoseconds, zone offset, and any year Go allows.

    ``unix`` counts seconds since 1970 UTC, ``nanosecond`` is 0..999999999,
    ``offset`` is the zone's offset east of UTC in seconds, or ``None`` for
    Go's UTC location (``time.UTC``; gob keeps that distinction). Aware
    ``datetime`` values are accepted wherever a ``GoTime`` is.
    """

    unix: int
    nanosecond: int = 0
    offset: int | None = None

    def __post_init__(self) -> None:
        if not INT64_MIN <= self.unix + _UNIX_TO_INTERNAL <= INT64_MAX:
            raise OverflowError(f"time {self.unix} is outside Go's range")
        if not 0 <= self.nanosecond <= 999_999_999:
            raise ValueError(f"nanosecond {self.nanosecond} is not in 0..999999999")
        if self.offset is not None:
            minutes = int(self.offset / 60)  # Go's offset / 60 truncates toward zero
            if minutes == -1 or not -32768 <= minutes <= 32767:
                raise ValueError(f"zone offset {self.offset} s cannot be sent by Go")

    @classmethod
    def from_datetime(cls, moment: datetime.datetime) -> GoTime:
        """The Go time of an aware ``datetime`` (UTC maps to Go's ``time.UTC``).

        Raises ``ValueError`` for a naive ``datetime``: its zone is unknown,
        and guessing would shift the time Go sees.
        """
        offset = moment.utcoffset()
        if offset is None:
            raise ValueError("naive datetime has no time zone; use an aware datetime")
        if offset.microseconds:
            raise ValueError("zone offsets with microseconds cannot be sent to Go")
        delta = moment - _EPOCH
        seconds = delta.days * 86400 + delta.seconds
        zone = None if not offset else int(offset.total_seconds())
        return cls(seconds, delta.microseconds * 1000, zone)

    def to_datetime(self) -> datetime.datetime:
        """This time as an aware ``datetime`` (nanoseconds are truncated to microseconds)."""
        zone = datetime.UTC
        if self.offset is not None:
            zone = datetime.timezone(datetime.timedelta(seconds=self.offset))
        moment = _EPOCH + datetime.timedelta(
            seconds=self.unix, microseconds=self.nanosecond // 1000
        )
        return moment.astimezone(zone)

    def marshal_binary(self) -> bytes:
        """Go's ``Time.MarshalBinary`` bytes (what gob sends for a ``time.Time``)."""
        version, extra = _TIME_V1, b""
        if self.offset is None:
            minutes = -1
        else:
            seconds = abs(self.offset) % 60 * (-1 if self.offset < 0 else 1)
            if seconds:
                version, extra = _TIME_V2, struct.pack(">b", seconds)
            minutes = int(self.offset / 60)
        head = struct.pack(
            ">Bqih", version, self.unix + _UNIX_TO_INTERNAL, self.nanosecond, minutes
        )
        return head + extra

    @classmethod
    def unmarshal_binary(cls, data: bytes) -> GoTime:
        """Read Go's ``Time.MarshalBinary`` bytes; ``ValueError`` with Go's message if invalid."""
        if not data:
            raise ValueError("Time.UnmarshalBinary: no data")
        if data[0] not in (_TIME_V1, _TIME_V2):
            raise ValueError("Time.UnmarshalBinary: unsupported version")
        if len(data) != (15 if data[0] == _TIME_V1 else 16):
            raise ValueError("Time.UnmarshalBinary: invalid length")
        _, seconds, nanos, minutes = struct.unpack(">Bqih", data[:15])
        offset = minutes * 60 + (data[15] if data[0] == _TIME_V2 else 0)
        return cls(seconds - _UNIX_TO_INTERNAL, nanos, None if offset == -60 else offset)

    def is_zero(self) -> bool:
        """Whether this is Go's zero ``time.Time`` (gob leaves it out of structs)."""
        return self.unix == -_UNIX_TO_INTERNAL and self.nanosecond == 0 and self.offset is None


#: ``GoTime`` of Go's zero ``time.Time{}`` (January 1, year 1, 00:00 UTC).
ZERO_TIME = GoTime(-_UNIX_TO_INTERNAL)
