"""Read a store's ``Set-Cookie`` lines the way a browser does: by cookie name.

A store may send more cookies than the session's own (a script-readable
expiry hint, a CSRF token), so no clause may assume one line per session:
each looks its session's cookie up by name, and asks for exactly one line
of that name (two lines of one name in one response would leave the
browser keeping whichever came last).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from spec.http import RecordingResponse

__all__ = ["SetCookie", "lines_named", "own_line", "parse_set_cookie"]


class SetCookie:
    """One parsed ``Set-Cookie`` line: name, value and attributes (names lower-cased)."""

    def __init__(self, line: str) -> None:
        self.line = line
        first, *rest = line.split("; ")
        self.name, _, self.value = first.partition("=")
        self.attributes: dict[str, str] = {}
        for part in rest:
            key, _, value = part.partition("=")
            self.attributes[key.strip().lower()] = value

    def get(self, attribute: str) -> str | None:
        """The value of ``attribute`` (``""`` for a flag such as ``Secure``), or ``None``."""
        return self.attributes.get(attribute.lower())

    def has(self, attribute: str) -> bool:
        """Whether the line carries ``attribute`` at all."""
        return attribute.lower() in self.attributes

    def expires(self) -> int | None:
        """``Expires`` as Unix seconds, or ``None`` without one."""
        text = self.get("Expires")
        return None if text is None else int(parsedate_to_datetime(text).timestamp())

    def __repr__(self) -> str:
        return f"SetCookie({self.line!r})"


def parse_set_cookie(line: str) -> SetCookie:
    """Parse one ``Set-Cookie`` header value."""
    return SetCookie(line)


def lines_named(response: RecordingResponse, name: str) -> list[str]:
    """Every ``Set-Cookie`` line of ``response`` that sets cookie ``name``, in order."""
    return [line for line in response.set_cookie_headers() if line.split("=", 1)[0] == name]


def own_line(response: RecordingResponse, name: str = "app") -> str:
    """The one ``Set-Cookie`` line for the session ``name``, with a message if there is not one."""
    lines = lines_named(response, name)
    assert len(lines) == 1, (
        f"expected exactly one Set-Cookie line for the session cookie {name!r}, got "
        f"{len(lines)}: {response.set_cookie_headers()!r} (other cookies are allowed; two lines "
        "of one name leave the browser keeping whichever came last)"
    )
    return lines[0]
