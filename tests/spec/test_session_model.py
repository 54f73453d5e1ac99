"""The Session model: values, flashes, options ownership, binding (docs/spec.md S-4)."""

from __future__ import annotations

import pytest

from spec import Options, Session
from spec.errors import ConfigurationError, MissingStoreError
from spec.http import RecordingResponse, SimpleRequest


def test_new_session_shape() -> None:
    """S-4.1: empty values, default options, no ID, new, no load error."""
    s = Session(name="app")
    assert (s.name, s.id, s.values, s.is_new, s.load_error) == ("app", "", {}, True, None)
    assert s.options == Options()


def test_values_take_str_and_int_keys() -> None:
    """S-4.2: gorilla's values['foo'] = 'bar' and values[42] = 43 both work."""
    s = Session(name="app")
    s.values["foo"] = "bar"
    s.values[42] = 43
    assert s.values == {"foo": "bar", 42: 43}


def test_name_must_be_a_token() -> None:
    """S-4.1: a session name is a cookie name."""
    with pytest.raises(ConfigurationError, match="invalid character in cookie name"):
        Session(name="a b")


def test_options_belong_to_one_session() -> None:
    """S-4.3: replacing one session's options never changes another's."""
    shared = Options()
    a = Session(name="a", options=shared)
    b = Session(name="b", options=shared)
    a.options = a.options.replace(max_age=0)
    assert a.options.max_age == 0
    assert b.options.max_age == shared.max_age == 2592000


def test_options_assignment_is_validated() -> None:
    """S-4.3: assigning invalid options fails at once and keeps the old ones."""
    s = Session(name="a")
    with pytest.raises(ConfigurationError):
        s.options = "lax"  # type: ignore[assignment]
    with pytest.raises(ConfigurationError, match="path must start"):
        s.options = {"path": "nope"}  # type: ignore[assignment]
    assert s.options == Options()


def test_flashes_append_then_are_consumed_once() -> None:
    """S-4.4: add_flash appends; flashes() removes and returns; absent gives []."""
    s = Session(name="a")
    assert s.flashes() == []
    s.add_flash("one")
    s.add_flash({"n": 2})
    s.add_flash("other", key="errors")
    assert s.values["_flash"] == ["one", {"n": 2}]
    assert s.flashes() == ["one", {"n": 2}]
    assert s.flashes() == []
    assert "_flash" not in s.values
    assert s.flashes("errors") == ["other"]


def test_flash_key_holding_a_scalar_is_a_clear_type_error() -> None:
    """S-4.4: gorilla panics (#49); we raise TypeError and leave the value alone."""
    s = Session(name="a")
    s.values["_flash"] = "oops"
    with pytest.raises(TypeError, match="'_flash' is a str, not a flash list"):
        s.add_flash("x")
    with pytest.raises(TypeError, match="not a flash list"):
        s.flashes()
    assert s.values["_flash"] == "oops"


def test_regenerate_id_is_a_request_until_a_store_honours_it() -> None:
    """S-4.5: regenerate_id marks the session; the store clears the mark after saving."""
    s = Session(name="a")
    assert not s.regenerate_requested
    s.regenerate_id()
    assert s.regenerate_requested
    s.clear_regenerate_request()
    assert not s.regenerate_requested


def test_save_without_a_store_raises() -> None:
    """S-4.6: a session no store produced cannot be saved."""
    s = Session(name="orphan")
    with pytest.raises(MissingStoreError, match='missing store for session "orphan"'):
        s.save(SimpleRequest(), RecordingResponse())


def test_save_delegates_to_the_bound_store() -> None:
    """S-4.6: session.save(r, w) is store.save(r, w, session)."""
    calls: list[tuple[object, object, Session]] = []

    class Recorder:
        def get(self, request: object, name: str) -> Session:
            raise NotImplementedError

        def new(self, request: object, name: str) -> Session:
            raise NotImplementedError

        def save(self, request: object, response: object, session: Session) -> None:
            calls.append((request, response, session))

    s = Session(name="a")
    store = Recorder()
    s.bind(store)  # type: ignore[arg-type]
    req, resp = SimpleRequest(), RecordingResponse()
    s.save(req, resp)
    assert calls == [(req, resp, s)]
    assert s.store is store


def test_a_fresh_session_is_unmodified() -> None:
    """S-4.7: nothing has changed in a session that was just created or loaded."""
    assert Session(name="a", values={"k": 1}).modified is False


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.values.__setitem__("k", 2),
        lambda s: s.values.__delitem__("k"),
        lambda s: s.values.pop("k"),
        lambda s: s.values.popitem(),
        lambda s: s.values.clear(),
        lambda s: s.values.update(x=1),
        lambda s: s.values.setdefault("new", 1),
        lambda s: s.values.__ior__({"x": 1}),
        lambda s: setattr(s, "values", {"k": 1}),
        lambda s: setattr(s, "options", s.options.replace(max_age=0)),
        lambda s: s.add_flash("hi"),
        lambda s: s.regenerate_id(),
        lambda s: s.mark_modified(),
    ],
)
def test_every_change_marks_the_session_modified(change: object) -> None:
    """S-4.7: setting, deleting, flashes, options and regenerate_id all count."""
    s = Session(name="a", values={"k": 1, "_flash": ["old"]})
    assert not s.modified
    change(s)  # type: ignore[operator]
    assert s.modified


def test_reads_do_not_mark_modified() -> None:
    """S-4.7: reading values, or flashes() with nothing to remove, is no change."""
    s = Session(name="a", values={"k": 1})
    assert s.values["k"] == 1 and s.values.get("x") is None and list(s.values) == ["k"]
    assert s.values.pop("absent", None) is None
    s.values.setdefault("k", 5)
    assert s.flashes() == []
    assert not s.modified
    s.add_flash("x")
    s.mark_unmodified()
    assert s.flashes() == ["x"]
    assert s.modified


def test_mark_unmodified_resets_after_save() -> None:
    """S-4.7: stores call mark_unmodified after loading and after saving."""
    s = Session(name="a")
    s.values["k"] = 1
    s.mark_unmodified()
    assert not s.modified
    s.values["k"] = 2
    assert s.modified


def test_model_copy_validates_and_keeps_the_store_binding() -> None:
    """S-7.4: a Session copy is validated like a new one; private state is copied."""
    s = Session(name="a")
    sentinel = object()
    s.bind(sentinel)  # type: ignore[arg-type]
    copied = s.model_copy(update={"id": "abc"})
    assert copied.id == "abc" and copied.store is sentinel
    with pytest.raises(ConfigurationError, match="invalid character in cookie name"):
        s.model_copy(update={"name": "a\r\nSet-Cookie: x=1"})
    with pytest.raises(ConfigurationError, match="invalid Session: name"):
        s.name = "bad name"
    assert s.name == "a"
