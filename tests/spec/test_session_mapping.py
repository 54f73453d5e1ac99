"""A Session used as a mapping means its values (S-4.8)."""

from __future__ import annotations

import pytest

from spec import Session


def test_membership_means_the_values_not_the_model_fields() -> None:
    """``"user" in session`` answers for the values; field names are not keys (S-4.8)."""
    session = Session(name="app", values={"user": "alice"})
    assert "user" in session
    assert "name" not in session  # a model field, not a value
    assert "values" not in session
    assert 42 not in session


def test_item_access_reads_and_writes_the_values_and_counts_as_a_change() -> None:
    """Item get, set and delete act on ``values`` and mark the session modified (S-4.8)."""
    session = Session(name="app")
    session["user"] = "alice"
    session[7] = 8
    assert session.values == {"user": "alice", 7: 8}
    assert session["user"] == "alice"
    assert session.modified
    session.mark_unmodified()
    del session["user"]
    assert session.values == {7: 8}
    assert session.modified
    with pytest.raises(KeyError):
        session["missing"]


def test_iteration_len_and_get_are_over_the_values() -> None:
    """Iteration yields value keys, ``len`` counts values, ``get`` has a default (S-4.8)."""
    session = Session(name="app", values={"a": 1, "b": 2})
    assert list(session) == ["a", "b"]
    assert len(session) == 2
    assert session.get("a") == 1
    assert session.get("zzz") is None
    assert session.get("zzz", 5) == 5
    assert dict(session.values) == {"a": 1, "b": 2}
