"""nlu_components.rasa_speedups: Rasa checks action server responses as before, only faster.

Run in the Rasa environment (.venv-rasa), like the other tests here.
"""

from __future__ import annotations

import pytest

pytest.importorskip("rasa")

import jsonschema
from rasa.core.actions.action import RemoteAction

import nlu_components  # noqa: F401  (importing the package applies the fix, as in `rasa run`)
from nlu_components import rasa_speedups

RESPONSES = {
    "a form fills two slots and speaks": {
        "events": [
            {"event": "slot", "name": "verified", "value": True, "timestamp": None},
            {"event": "active_loop", "name": None},
        ],
        "responses": [{"response": "utter_balance", "balance": "$1,369.37"}],
    },
    "nothing to do": {"events": [], "responses": []},
    "no keys at all": {},
    "events not a list": {"events": {"event": "slot"}},
    "an event Rasa does not know": {"events": [{"event": "teleport", "name": "x"}]},
    "a slot event without its name": {"events": [{"event": "slot", "value": 1}]},
    "a response that is a string": {"events": [], "responses": ["hello"]},
    "not an object": ["events"],
}


def _outcome(method, result):  # type: ignore[no-untyped-def]
    try:
        return method(RemoteAction("action_test", None), result)
    except jsonschema.ValidationError as error:
        return ("rejected", error.message, list(error.path))


def test_loading_the_components_replaces_rasas_method():
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result
    assert rasa_speedups.rasa_original is not None
    assert rasa_speedups.cache_action_response_validator() is True  # a second load: no change
    assert rasa_speedups.rasa_original is not rasa_speedups._validate_action_result


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_same_verdict_and_same_error_as_rasa(name):
    result = RESPONSES[name]
    ours = _outcome(RemoteAction._validate_action_result, result)
    theirs = _outcome(rasa_speedups.rasa_original, result)
    assert ours == theirs
    if name in ("a form fills two slots and speaks", "nothing to do", "no keys at all"):
        assert ours is True
    else:
        assert ours[0] == "rejected" and "Failed to validate Action server response" in ours[1]


def test_the_schema_is_not_checked_again_on_each_response(monkeypatch):
    rasa_speedups.action_response_validator()  # built once, as at the first response

    def meta_check(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the schema was checked against the meta-schema again")

    monkeypatch.setattr(jsonschema, "validate", meta_check)
    monkeypatch.setattr(type(rasa_speedups.action_response_validator()), "check_schema", meta_check)
    action = RemoteAction("action_test", None)
    for _ in range(3):
        assert action._validate_action_result(RESPONSES["nothing to do"]) is True


def test_numpy_multiplies_matrices_in_one_thread():
    """No idle OpenBLAS threads spinning beside the server (see the module's docstring)."""
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "numpy has no BLAS thread pool to limit"
    assert {pool["num_threads"] for pool in blas} == {1}
