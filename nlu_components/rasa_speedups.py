"""Two fixes to what a Rasa 3.6 server spends its CPU on, applied when it loads these
components.

1. One BLAS thread. numpy's OpenBLAS starts a thread per core, and after each small matrix
product (our classifier, the MiniLM features) its idle threads spin, waiting for more: on
2 cores a sequential turn cost 93 ms of CPU for 57 ms of wall time, and an idle server used
20 ms of CPU a second. With one thread: 40 ms a turn, the same wall time, nothing idle
(measured with bench.stack.cpu_seconds). What OMP_NUM_THREADS=1 would do in every launcher.

2. Rasa checks every action server response with `jsonschema.validate(result, schema)`
(`RemoteAction._validate_action_result`). `validate()` checks the schema against its
meta-schema and builds a new validator on every call: about 20 ms of CPU per custom action
call here, 43% of the Rasa server's CPU at 20 concurrent conversations (bench/RESULTS.md).
The schema is a constant, so this builds its validator once and validates with it: the same
answer and the same error (`best_match` of all errors, its message extended as Rasa does),
under 1 ms.

`apply()` runs from `nlu_components/__init__.py`: config.yml names our components, so every
process that loads the model (`rasa run`, `rasa shell`, the tests) imports this package
before it serves a message. If Rasa's internals differ from what this expects (another
version), it leaves Rasa alone.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# Rasa's own method, kept when ours replaces it: the tests check that ours answers as it does
rasa_original: Any = None


@lru_cache(maxsize=1)
def action_response_validator() -> Any:
    """The validator of Rasa's action server response schema, checked and built once."""
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(action_response_validator().iter_errors(result))
    if error is None:
        return True
    # Rasa's own wording, so its logs and the action server's users see what they saw before
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def apply() -> None:
    limit_blas_threads()
    cache_action_response_validator()


def limit_blas_threads() -> bool:
    """numpy's BLAS runs in the calling thread only; False when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=1, user_api="blas")
    return True


def cache_action_response_validator() -> bool:
    """Replace `RemoteAction._validate_action_result`; True if it is (now or already) ours."""
    try:
        from rasa.core.actions.action import RemoteAction
    except ImportError:  # not inside Rasa: nothing to speed up
        return False
    current = getattr(RemoteAction, "_validate_action_result", None)
    if current is None or not hasattr(RemoteAction, "action_response_format_spec"):
        return False
    if current is _validate_action_result:
        return True
    global rasa_original
    rasa_original = current
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    return True
