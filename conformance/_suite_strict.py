"""Stricter server-side clauses: ID randomness, IDs on load, no way back, purge edges (S-10)."""

from __future__ import annotations

import base64
import math
import random
import re

import pytest

from conformance._base import S, StoreBase, since
from conformance._browser import Browser
from reference_impl.securecookie import SecureCookie
from reference_impl.serializers import JSONSerializer
from spec import ManualClock, Store
from spec.errors import InvalidSessionIDError
from spec.http import RecordingResponse, SimpleRequest

__all__ = ["StrictServerSideClauses", "mt19937_predicts", "untemper"]

HASH, BLOCK = b"conformance-hash-key-0123456789!", b"conformance-block-key-0123456789"
_ID = re.compile(r"[A-Z2-7]{52}")
#: IDs drawn for the frequency tests: 256 IDs are 8,192 bytes, 65,536 bits.
ENTROPY_SAMPLE = 256
#: A Mersenne Twister's whole state is 624 outputs of 32 bits: 78 IDs of 256 bits.
_MT_WORDS = 624
_MASK = 0xFFFFFFFF


def untemper(y: int) -> int:
    """Invert MT19937's output tempering: the state word behind one 32-bit output."""
    y ^= y >> 18
    y ^= (y << 15) & 0xEFC60000
    result = y
    for _ in range(5):
        result = y ^ ((result << 7) & 0x9D2C5680)
    y = result & _MASK
    result = y
    for _ in range(3):
        result = y ^ (result >> 11)
    return result & _MASK


def mt19937_predicts(raw_ids: list[bytes]) -> bool:
    """Whether a Mersenne Twister rebuilt from the first 78 IDs predicts the 79th.

    ``random.getrandbits(256)`` and ``random.randbytes(32)`` build each
    value from eight consecutive 32-bit outputs, least significant first;
    the IDs are read back both ways round (``to_bytes`` big- or
    little-endian). 624 outputs fix the generator's state completely, so a
    correct prediction means the IDs came from ``random``, however it was
    seeded; a CSPRNG's 79th ID matches with probability 2**-256.
    """
    per_id = _MT_WORDS // 8 + 1
    if len(raw_ids) < per_id or any(len(raw) != 32 for raw in raw_ids[:per_id]):
        return False
    for order in ("little", "big"):
        words: list[int] = []
        for raw in raw_ids[: per_id - 1]:
            number = int.from_bytes(raw, order)
            words.extend((number >> (32 * i)) & _MASK for i in range(8))
        clone = random.Random()  # noqa: S311 - rebuilding the generator under suspicion
        clone.setstate((3, (*(untemper(w) for w in words[:_MT_WORDS]), _MT_WORDS), None))
        if clone.getrandbits(256).to_bytes(32, order) == raw_ids[per_id - 1]:
            return True
    return False


def _draw_ids(store: Store, count: int, *, forget: bool = False) -> list[str]:
    """Save ``count`` fresh sessions; with ``forget``, delete each record again.

    Deleting matters for the reseeding check: a second draw of the same IDs
    would otherwise collide with the first draw's records, and the store
    would rightly draw other IDs (S-10.6), hiding the repetition.
    """
    ids = []
    for _ in range(count):
        request, response = SimpleRequest(), RecordingResponse()
        session = store.get(request, "app")
        session.save(request, response)
        ids.append(session.id)
        if forget:
            session.options = session.options.replace(max_age=-1)
            session.save(request, RecordingResponse())
    return ids


class StrictServerSideClauses(StoreBase[S]):
    """S-10 checks a store cannot pass by luck; every test skips unless ``server_side``."""

    @pytest.fixture(autouse=True)
    def _strict_server_side_only(self, request: pytest.FixtureRequest) -> None:
        if request.function.__name__.startswith("test_s10_"):
            self.require("server_side", "S-10")

    # S-10.1 ------------------------------------------------------------------

    @since("1.1")
    def test_s10_1_ids_come_from_a_csprng(self, store: S) -> None:
        """Ensure IDs pass frequency tests and are not from random or a counter (S-10.1).

        The statistical part (monobit and byte frequencies, shared prefixes)
        rejects counters, clocks and low-entropy IDs at once. The Mersenne
        Twister passes such tests, so it is caught by what it is instead:
        reseeding ``random`` must not repeat the IDs, and a clone rebuilt
        from 624 observed outputs must not predict the next ID.
        """
        saved = random.getstate()
        try:
            random.seed(1414)
            first = _draw_ids(store, 3, forget=True)
            random.seed(1414)
            second = _draw_ids(store, 3, forget=True)
        finally:
            random.setstate(saved)
        assert set(first).isdisjoint(second), (
            f"after random.seed(1414) twice the store issued the same IDs {first!r}: they "
            "come from the random module; draw them from os.urandom / secrets"
        )
        ids = _draw_ids(store, ENTROPY_SAMPLE)
        bad = [i for i in ids if not _ID.fullmatch(i)]
        assert bad == [], f"IDs must be 52 base32 characters, got {bad[:3]!r}"
        assert len(set(ids)) == len(ids), "an ID was issued twice"
        prefixes = {i[:10] for i in ids}
        assert len(prefixes) == len(ids), "two IDs share their first 50 bits: not random"
        raw = [base64.b32decode(i + "====") for i in ids]
        data = b"".join(raw)
        bits = len(data) * 8
        ones = sum(bin(byte).count("1") for byte in data)
        z = abs(ones - bits / 2) / math.sqrt(bits / 4)
        assert z < 6, f"{ones} one-bits in {bits}: z = {z:.1f}; the IDs are not uniform"
        expected = len(data) / 256
        counts = [0] * 256
        for byte in data:
            counts[byte] += 1
        chi2 = sum((c - expected) ** 2 / expected for c in counts)
        # 255 degrees of freedom: mean 255, standard deviation about 22.6; the
        # bound is 7 deviations out (a CSPRNG exceeds it about once in 10**9).
        assert chi2 < 255 + 7 * math.sqrt(2 * 255), (
            f"byte frequencies of the IDs: chi-square {chi2:.0f} on 255 degrees of freedom; "
            "the IDs are not uniform (a counter, a clock or a hash of one?)"
        )
        assert not mt19937_predicts(raw), (
            "a Mersenne Twister rebuilt from 78 IDs predicted the next one: the IDs come "
            "from the random module (random.getrandbits / randbytes); use os.urandom"
        )

    # S-10.3 ------------------------------------------------------------------

    @since("1.1")
    def test_s10_3_ids_from_cookies_are_checked_on_load(self, clock: ManualClock) -> None:
        """Ensure a signed ID of the wrong shape is refused on load, before lookup (S-10.3)."""
        store = self.keyed_store(clock, "S-10.3", HASH, BLOCK)
        serializer = getattr(store, "serializer", None) or JSONSerializer()
        codec = SecureCookie(HASH, BLOCK, serializer=serializer, clock=clock)
        for forged in ("../../etc/passwd", "A" * 51 + ".", "A" * 51 + "\n", "A" * 129, "a b"):
            cookie = codec.encode("app", forged)
            session = store.new(SimpleRequest(f"app={cookie}"), "app")
            assert session.is_new and dict(session.values) == {}, forged
            assert isinstance(session.load_error, InvalidSessionIDError), (
                f"the signed ID {forged!r} gave load_error={session.load_error!r}: check every "
                "ID from a cookie (InvalidSessionIDError) before it reaches the backend"
            )

    # S-10.7 ------------------------------------------------------------------

    @since("1.1")
    def test_s10_7_old_id_never_comes_back(self, store: S) -> None:
        """Ensure nothing leads back to a regenerated session's old ID (S-10.7)."""
        self.require("regenerate_id", "S-10.7")
        browser = Browser()
        old_id = browser.visit(store, user="alice").id
        old_cookie = browser.cookie()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.regenerate_id()
        session.save(request, response)
        browser.receive(response)
        new_id = session.id
        request, response = SimpleRequest(f"app={old_cookie}"), RecordingResponse()
        stale = store.get(request, "app")
        assert stale.is_new and dict(stale.values) == {}, (
            f"the old cookie still loads {dict(stale.values)!r} after regenerate_id(): "
            "delete the old record (no cache, alias or grace period)"
        )
        stale.values["tab"] = "old"
        stale.save(request, response)
        assert stale.id not in (old_id, new_id), (
            "a request carrying the old cookie saved under an old ID: draw a new one (S-10.2)"
        )
        replay = store.new(SimpleRequest(f"app={old_cookie}"), "app")
        assert replay.is_new and dict(replay.values) == {}, dict(replay.values)
        assert dict(browser.load(store).values) == {"user": "alice"}

    # S-10.9 ------------------------------------------------------------------

    @since("1.1")
    def test_s10_9_purge_boundaries(self, store: S, clock: ManualClock) -> None:
        """Ensure purge keeps a record at its deadline and uses the last save's (S-10.9)."""
        self.require("purge_expired", "S-10.9")
        purge = getattr(store, "purge_expired")  # noqa: B009 - declared by capability
        limit = self.capabilities.store_max_age
        edge, active = Browser(), Browser()
        edge.visit(store, k="edge")
        active.visit(store, k="active")
        clock.advance(limit - 10)
        active.visit(store, k="active again")  # its deadline moves 'limit' seconds on
        clock.advance(10)
        assert purge() == 0, (
            "purge_expired removed a record exactly at its deadline, which still loads "
            "(S-9.4): remove only records strictly past it"
        )
        assert dict(edge.load(store).values) == {"k": "edge"}
        clock.advance(1)
        assert purge() == 1, "one record was one second past its deadline"
        assert edge.load(store).is_new
        assert dict(active.load(store).values) == {"k": "active again"}, (
            "purge_expired removed a record saved again since it was created: the deadline "
            "is the last save's, not the creation time"
        )
        if self.capabilities.record_deadlines:
            short = Browser()
            request, response = short.request(), RecordingResponse()
            session = store.get(request, "app")
            session.options = session.options.replace(max_age=60)
            session.save(request, response)
            short.receive(response)
            clock.advance(60)
            assert purge() == 0, "a record at its own 60 s deadline was purged"
            clock.advance(1)
            assert purge() == 1, "a record past its own max_age was kept by purge_expired"
