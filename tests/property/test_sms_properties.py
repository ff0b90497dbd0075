"""POST /twilio/sms with any form: missing, repeated and unknown fields, any unicode (NUL,
lone surrogates sent as the bytes they would encode to), bodies up to 100 kB, wrong content
types, non-UTF-8 bytes; signed exactly as Twilio signs what the app will read, and unsigned.
Never a 5xx; a signed form the app accepts stores exactly one inbound row for its MessageSid;
an unsigned one stores nothing; never a half-written row."""

from __future__ import annotations

from urllib.parse import quote_plus

from hypothesis import event, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.property.conftest import BASE, EXAMPLES, PROPERTY_SETTINGS, TOKEN, Edge

URL = f"{BASE}/twilio/sms"
FIELDS = ("MessageSid", "From", "Body", "To", "AccountSid", "SmsSid", "NumMedia")
FORM = "application/x-www-form-urlencoded"

# Any code point, lone surrogates included (sent as the bytes they would encode to).
any_text = st.lists(st.characters() | st.characters(categories=["Cs"]), max_size=60).map("".join)
sid = st.one_of(
    st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True), any_text, st.text("SM0a", max_size=80)
)
phone = st.one_of(
    st.sampled_from(["+12065550134", "+14045550178", "+13125550190", "+12125550111"]),
    st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True),
    any_text,
)
body = st.one_of(
    any_text,
    st.sampled_from(["STOP", "help", "4111 1111 1111 1111", "123-45-6789", "agent", ""]),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(1, 1_500)),
)  # bodies of 50-100 kB: test_huge_signed_bodies_are_answered
value_for = {"MessageSid": sid, "From": phone, "Body": body}
field = st.one_of(st.sampled_from(FIELDS), any_text)


@st.composite
def forms(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Each field of Twilio's form 0-3 times (missing, repeated), plus unknown fields."""
    pairs: list[tuple[str, str]] = []
    for name in FIELDS:
        for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2, 3]))):
            pairs.append((name, draw(value_for.get(name, any_text))))
    pairs += draw(st.lists(st.tuples(field, any_text), max_size=4))
    return draw(st.permutations(pairs))


def encode(pairs: list[tuple[str, str]], encoding: str) -> bytes:
    """The form as bytes: UTF-8 (lone surrogates as the bytes they would be), or Latin-1
    where it can be, or raw bytes that are not UTF-8 at all."""

    def one(text: str) -> str:
        if encoding == "latin-1":
            return quote_plus(text.encode("latin-1", "replace"))
        return quote_plus(text.encode("utf-8", "surrogatepass"))

    return "&".join(f"{one(k)}={one(v)}" for k, v in pairs).encode("ascii")


def what_the_app_reads(data: bytes, content_type: str | None) -> dict[str, str]:
    """The form exactly as the app parses it (werkzeug's own parser): what Twilio signed."""
    builder = EnvironBuilder(
        path="/twilio/sms", method="POST", data=data, content_type=content_type
    )
    try:
        return Request(builder.get_environ()).form.to_dict(flat=True)
    except HTTPException:  # a form werkzeug refuses to parse: the app refuses it too
        return {}


content_types = st.sampled_from(
    [FORM, FORM, FORM, f"{FORM}; charset=utf-8", f"{FORM}; charset=latin-1", "text/plain",
     "application/json", "multipart/form-data; boundary=x", None]
)  # fmt: skip


def post(edge: Edge, data: bytes, content_type: str | None, signature: str | None):  # type: ignore[no-untyped-def]
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return edge.app.test_client().post(
        "/twilio/sms", data=data, content_type=content_type, headers=headers
    )


def check_response(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code == 200:
        assert response.get_data(as_text=True).lstrip().startswith("<?xml")


@PROPERTY_SETTINGS
@given(
    pairs=forms(),
    encoding=st.sampled_from(["utf-8", "utf-8", "latin-1"]),
    content_type=content_types,
)
def test_signed_sms_any_form_never_5xx_and_one_row_per_sid(
    edge: Edge, pairs: list[tuple[str, str]], encoding: str, content_type: str | None
) -> None:
    data = encode(pairs, encoding)
    params = what_the_app_reads(data, content_type)
    signature = RequestValidator(TOKEN).compute_signature(URL, params)
    response = post(edge, data, content_type, signature)
    event(f"status {response.status_code}")
    check_response(response)
    stored_sid = params.get("MessageSid", "").strip()[:64]
    if response.status_code == 200:
        assert edge.inbound_with_sid(stored_sid) == 1
    assert edge.half_written() == []


@PROPERTY_SETTINGS
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.builds(encode, forms(), st.sampled_from(["utf-8", "latin-1"])),
    ),
    content_type=content_types,
    signature=st.one_of(st.none(), st.just(""), st.text(max_size=40), st.just("a" * 28 + "=")),
)
def test_unsigned_or_badly_signed_sms_is_refused_and_stores_nothing(
    edge: Edge, data: bytes, content_type: str | None, signature: str | None
) -> None:
    before = edge.message_count()
    try:
        response = post(edge, data, content_type, signature)
    except ValueError:  # a header value the HTTP client itself refuses to send (e.g. "\n")
        return
    assert response.status_code in (400, 403, 413), response.status_code
    assert edge.message_count() == before


@settings(PROPERTY_SETTINGS, max_examples=min(EXAMPLES, 25))  # 50-100 kB each: a few suffice
@given(size=st.integers(50_000, 100_000), char=st.sampled_from(["a", "é", "💸", "\x00", "4"]))
def test_huge_signed_bodies_are_answered(edge: Edge, size: int, char: str) -> None:
    pairs = [("MessageSid", f"SM{size:032x}"), ("From", "+12065550134"), ("Body", char * size)]
    data = encode(pairs, "utf-8")
    params = what_the_app_reads(data, FORM)
    signature = RequestValidator(TOKEN).compute_signature(URL, params)
    response = post(edge, data, FORM, signature)
    if len(data) > 256 * 1024:  # MAX_CONTENT_LENGTH: refused before it is read
        assert response.status_code == 413
        return
    check_response(response)
    assert response.status_code == 200
    assert edge.inbound_with_sid(f"SM{size:032x}") == 1
    assert edge.half_written() == []
