"""The JSON API (/api/v1) with any path under it, any query string, any body and any
Authorization header (none, garbage, another scheme, a valid token of each role): always a JSON
answer, never a 5xx, never an HTML page."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import event, given
from hypothesis import strategies as st

from tests.property.conftest import PROPERTY_SETTINGS, Edge

any_text = st.lists(st.characters() | st.characters(categories=["Cs"]), max_size=40).map("".join)
PLAUSIBLE = ["ACC-100234", "ACC-100512", "1", "2", "0", "99999999999999999999", "x"]
segment = st.one_of(
    st.sampled_from(PLAUSIBLE),
    st.sampled_from(PLAUSIBLE),
    any_text.map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")),
)
ROUTES = (
    "accounts/{}",
    "conversations",
    "conversations/{}",
    "handoffs",
    "handoffs/{}/claim",
    "handoffs/{}/messages",
    "handoffs/{}/release",
    "handoffs/{}/close",
    "metrics",
)
ODD_ROUTES = ("{}", "{}/{}", "accounts", "handoffs/{}", "", "metrics/{}")
QUERY_NAMES = (
    "status",
    "account_ref",
    "channel",
    "flag",
    "since",
    "until",
    "page",
    "per_page",
    "q",
    "text",
    "phone",
    "name",
    "review",
    "check",
)
query_values = st.one_of(
    any_text,
    st.sampled_from(
        [
            "2026-11-23",
            "2026-02-30",
            "9999-12-31",
            "0001-01-01",
            "-5",
            "1e9",
            "waiting",
            "active",
            "closed",
            "sms",
            "web",
            "dispute",
            "+12065550134",
        ]
    ),
    st.integers().map(str),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.one_of(
    st.none(),
    st.builds(lambda t: json.dumps({"text": t}).encode(), any_text),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.binary(max_size=200),
)


@st.composite
def paths(draw: st.DrawFn) -> str:
    route = draw(st.sampled_from(ROUTES) | st.sampled_from(ROUTES) | st.sampled_from(ODD_ROUTES))
    return "/api/v1/" + route.format(*(draw(segment) for _ in range(route.count("{}"))))


@st.composite
def authorizations(draw: st.DrawFn, tokens: dict[str, str]) -> dict[str, str]:
    choice = draw(st.sampled_from(["agent", "compliance", "admin", "agent", "none", "junk"]))
    if choice == "none":
        return {}
    if choice == "junk":
        value = draw(
            st.one_of(
                st.just("Bearer "),
                st.just("Basic dXNlcjpwYXNz"),
                st.builds(
                    lambda t: f"Bearer {t}",
                    st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=60),
                ),
                st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=60),
            )
        )
        return {"Authorization": value}
    return {"Authorization": f"Bearer {tokens[choice]}"}


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    path=paths(),
    method=st.sampled_from(["GET", "POST"]) | st.sampled_from(["PUT", "DELETE", "PATCH"]),
    query=st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | any_text, query_values), max_size=5),
    body=bodies,
    content_type=st.sampled_from(["application/json", "application/json", "text/plain", None]),
)
def test_api_any_request_answers_json_never_5xx(
    edge: Edge,
    data: st.DataObject,
    path: str,
    method: str,
    query: list[tuple[str, str]],
    body: bytes | None,
    content_type: str | None,
) -> None:
    headers = data.draw(authorizations(edge.tokens))
    query_string = "&".join(
        f"{quote(k.encode('utf-8', 'surrogatepass'))}={quote(v.encode('utf-8', 'surrogatepass'))}"
        for k, v in query
    )
    kwargs: dict[str, Any] = {"method": method, "headers": headers, "query_string": query_string}
    if body is not None:
        kwargs.update(data=body, content_type=content_type)
    response = edge.app.test_client().open(path, **kwargs)
    event(f"{method} {response.status_code}")
    assert response.status_code < 500, (path, response.get_data(as_text=True)[:300])
    assert response.is_json, (path, response.status_code, response.get_data(as_text=True)[:200])
    payload = response.get_json()
    if response.status_code >= 400:
        assert isinstance(payload, dict) and isinstance(payload.get("error"), str), payload
    assert edge.half_written() == []


@PROPERTY_SETTINGS
@given(
    path=st.sampled_from(["/api/v1/conversations", "/api/v1/metrics", "/api/v1/handoffs"]),
    query=st.lists(st.tuples(st.sampled_from(QUERY_NAMES), query_values), max_size=6),
)
def test_api_any_query_string_of_an_admin_answers_json_never_5xx(
    edge: Edge, path: str, query: list[tuple[str, str]]
) -> None:
    """Past the token check, into the filters: dates, pages, flags, phones of any shape."""
    response = edge.app.test_client().get(
        path,
        query_string=[(k, v.encode("utf-8", "surrogatepass")) for k, v in query],
        headers={"Authorization": f"Bearer {edge.tokens['admin']}"},
    )
    event(f"{path} {response.status_code}")
    assert response.status_code < 500, (path, query, response.get_data(as_text=True)[:300])
    assert response.is_json
    if response.status_code >= 400:
        assert isinstance(response.get_json().get("error"), str)
