"""The state machine's own model must not fail a correct store (issue 14: no false rejections)."""

from __future__ import annotations

import pytest

from conformance import Capabilities, stateful
from reference_impl import testing
from spec.http import RecordingResponse, SimpleRequest


def test_deleting_without_a_cookie_revokes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A delete that reaches no record leaves the old cookies valid in the model too.

    The browser-session cookie is dropped when the browser closes, so the
    delete request carries no cookie and the record lives on: replaying an
    older cookie of that session rightly loads it. The model used to mark
    those cookies revoked, and the machine then failed correct stores.
    """
    monkeypatch.setattr(stateful, "note", lambda *_: None)
    machine_class = stateful.state_machine_for(
        testing.memory, Capabilities.model_validate(testing.memory.capabilities)
    )
    machine = machine_class()
    browser, model = machine.browsers[0], machine.models[0]
    machine.add_flash(index=0, message="hello")
    request, response = browser.request(), RecordingResponse()
    session = machine.store.get(request, stateful.NAME)
    session.options = session.options.replace(max_age=0)  # "remember me: off"
    session.save(request, response)
    browser.receive(response)
    machine._saved(model, 0)
    machine.add_flash(index=0, message="again")
    machine.close_browser(index=0)
    machine.delete_session(index=0)
    for cookie in model.old_cookies:
        replay = machine.store.new(SimpleRequest(f"{stateful.NAME}={cookie}"), stateful.NAME)
        if cookie in machine.revoked:
            assert replay.is_new, "the model revoked a cookie whose record is alive"
    machine.sessions_match_the_model()
