"""The web chat's JSON API with any body (any JSON value, non-JSON bytes, wrong content types),
any headers the page may or may not send, and any `after`: always a JSON answer, never a 5xx,
never a half-written row; an accepted message is stored once with what answered it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import event, given
from hypothesis import strategies as st

from tests.property.conftest import PROPERTY_SETTINGS, Edge

# Any code point, lone surrogates included (JSON can carry them as "\ud800").
any_text = st.lists(st.characters() | st.characters(categories=["Cs"]), max_size=80).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)
chat_bodies = st.one_of(
    st.builds(lambda text: {"text": text}, any_text),
    st.builds(lambda text: {"text": text}, st.text(min_size=1, max_size=200)),
    st.builds(lambda text: {"text": text}, st.text(min_size=1990, max_size=2010)),
    st.builds(
        lambda t, extra: {"text": t, **extra},
        any_text,
        st.dictionaries(any_text, json_values, max_size=3),
    ),
    json_values,
)


def as_bytes(value: Any) -> bytes:
    """JSON as a browser would send it; lone surrogates as JSON escapes ("\\ud800")."""
    return json.dumps(value, ensure_ascii=True).encode()


texts = st.builds(lambda text: {"text": text}, st.text(min_size=1, max_size=200) | any_text)
raw_bodies = st.one_of(
    st.builds(as_bytes, texts),
    st.builds(as_bytes, texts),
    st.builds(as_bytes, chat_bodies),
    st.binary(max_size=300),
    st.builds(
        lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass"), chat_bodies
    ),
)
content_types = st.one_of(
    st.just("application/json"),
    st.just("application/json"),
    st.sampled_from(
        [
            "application/json; charset=utf-8",
            "text/plain",
            None,
            "application/x-www-form-urlencoded",
            "application/json; charset=latin-1",
        ]
    ),
)
FETCH = {"X-Requested-With": "fetch"}
headers = st.one_of(
    st.just(FETCH),  # what the page sends: most examples get past the origin check
    st.just(FETCH),
    st.just(FETCH),
    st.sampled_from(
        [
            {**FETCH, "Origin": "http://localhost"},
            {**FETCH, "Origin": "https://evil.example"},
            {**FETCH, "Origin": "null"},
            {"X-Requested-With": "XMLHttpRequest"},
            {},
        ]
    ),
)


def check(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert response.is_json, (response.status_code, response.get_data(as_text=True)[:200])
    body = response.get_json()
    assert isinstance(body, dict)
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str)
    else:
        assert isinstance(body.get("messages"), list)


@PROPERTY_SETTINGS
@given(data=raw_bodies, content_type=content_types, extra=headers, fresh=st.booleans())
def test_chat_send_any_body_never_5xx_always_json(
    edge: Edge, data: bytes, content_type: str | None, extra: dict[str, str], fresh: bool
) -> None:
    client = edge.app.test_client()
    if not fresh:
        client.get("/chat")
    response = client.post(
        "/chat/api/messages", data=data, content_type=content_type, headers=extra
    )
    event(f"status {response.status_code} {(response.get_json(silent=True) or {}).get('message')}")
    check(response)
    if response.status_code == 200:
        messages = response.get_json()["messages"]
        assert messages and messages[0]["direction"] == "in"
    assert edge.half_written() == []


@PROPERTY_SETTINGS
@given(
    after=st.one_of(any_text, st.integers().map(str), st.just("9" * 40)),
    repeat=st.booleans(),
    extra=headers,
)
def test_chat_poll_any_query_never_5xx_always_json(
    edge: Edge, after: str, repeat: bool, extra: dict[str, str]
) -> None:
    client = edge.app.test_client()
    query = (
        "after=" + quote(after.encode("utf-8", "surrogatepass")) + ("&after=1" if repeat else "")
    )
    response = client.get("/chat/api/messages", query_string=query, headers=extra)
    event(f"status {response.status_code}")
    check(response)
