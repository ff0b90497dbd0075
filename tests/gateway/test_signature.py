"""Rule 21: every webhook carries a valid X-Twilio-Signature; otherwise 403 and nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from tests.gateway.conftest import (
    SMS_URL,
    TOKEN,
    counts,
    make_app,
    post_sms,
    sign,
    sms_params,
    twiml_bodies,
)

pytestmark = pytest.mark.integration

# Twilio's documented example (https://www.twilio.com/docs/usage/security).
KNOWN_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
KNOWN_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
KNOWN_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_known_answer_through_request_validator() -> None:
    assert sign(KNOWN_URL, KNOWN_PARAMS) == KNOWN_SIGNATURE
    assert RequestValidator(TOKEN).validate(KNOWN_URL, KNOWN_PARAMS, KNOWN_SIGNATURE)
    assert not RequestValidator(TOKEN).validate(KNOWN_URL, KNOWN_PARAMS, "x" + KNOWN_SIGNATURE)


def test_signed_request_is_accepted(client: FlaskClient, db: Session) -> None:
    before = counts(db)
    response = post_sms(client, "hello")
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    twiml_bodies(response)
    after = counts(db)
    assert after[0] > before[0] and after[1] == before[1] + 1


def test_public_base_url_is_the_signed_url(db: Session, database_url: str, tmp_path: Path) -> None:
    """Behind a proxy with PUBLIC_BASE_URL, Twilio signs PUBLIC_BASE_URL + path + query."""
    app = make_app(database_url, tmp_path / "var", public_base_url="https://mycompany.com")
    client = app.test_client()
    params = {**KNOWN_PARAMS, "MessageSid": "SM" + "a" * 32, "Body": "hello"}
    public = "https://mycompany.com/twilio/sms?foo=1&bar=2"
    before = counts(db)

    local = client.post(
        "/twilio/sms?foo=1&bar=2",
        data=params,
        headers={"X-Twilio-Signature": sign("http://localhost/twilio/sms?foo=1&bar=2", params)},
    )
    assert local.status_code == 403
    assert counts(db) == before

    accepted = client.post(
        "/twilio/sms?foo=1&bar=2", data=params, headers={"X-Twilio-Signature": sign(public, params)}
    )
    assert accepted.status_code == 200
    assert counts(db)[0] > before[0]


def test_public_base_url_with_trailing_slash(
    db: Session, database_url: str, tmp_path: Path
) -> None:
    app = make_app(database_url, tmp_path / "var", public_base_url="https://mycompany.com/")
    params = sms_params("hello")
    response = app.test_client().post(
        "/twilio/sms",
        data=params,
        headers={"X-Twilio-Signature": sign("https://mycompany.com/twilio/sms", params)},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="empty"),
        pytest.param(None, id="missing"),
        pytest.param("RSOYDt4T1cUTdK1PDd93/VVr8B8=", id="wrong"),
        pytest.param("for-another-token", id="other-token"),
    ],
)
def test_bad_signature_is_403_and_stores_nothing(
    client: FlaskClient, db: Session, signature: str | None
) -> None:
    params = sms_params("STOP")
    if signature == "for-another-token":
        signature = RequestValidator("54321").compute_signature(SMS_URL, params)
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    before = counts(db)
    response = client.post("/twilio/sms", data=params, headers=headers)
    assert response.status_code == 403
    assert counts(db) == before


def test_tampered_body_is_403(client: FlaskClient, db: Session) -> None:
    params = sms_params("hi")
    signature = sign(SMS_URL, params)
    before = counts(db)
    response = client.post(
        "/twilio/sms", data={**params, "Body": "STOP"}, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403
    assert counts(db) == before


def test_signature_for_another_path_is_403(client: FlaskClient, db: Session) -> None:
    params = sms_params("hi")
    before = counts(db)
    response = client.post(
        "/twilio/sms",
        data=params,
        headers={"X-Twilio-Signature": sign("http://localhost/twilio/status", params)},
    )
    assert response.status_code == 403
    assert counts(db) == before


def test_json_body_is_403_even_when_signed(client: FlaskClient, db: Session) -> None:
    params = sms_params("hi")
    before = counts(db)
    for signature in (sign(SMS_URL, params), sign(SMS_URL, {})):
        response = client.post(
            "/twilio/sms",
            data=json.dumps(params),
            content_type="application/json",
            headers={"X-Twilio-Signature": signature},
        )
        assert response.status_code == 403
    assert counts(db) == before


def test_no_token_configured_rejects_everything(
    db: Session, database_url: str, tmp_path: Path
) -> None:
    """Outside development with no TWILIO_AUTH_TOKEN there is nothing to check against."""
    app = make_app(database_url, tmp_path / "var", twilio_auth_token=None, environment="production")
    params = sms_params("hi")
    before = counts(db)
    response = app.test_client().post(
        "/twilio/sms", data=params, headers={"X-Twilio-Signature": sign(SMS_URL, params)}
    )
    assert response.status_code == 403
    assert counts(db) == before


def test_behind_https_proxy_without_public_base_url(client: FlaskClient, db: Session) -> None:
    params = sms_params("hello")
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"}
    before = counts(db)

    wrong = client.post(
        "/twilio/sms",
        data=params,
        headers={**proxy, "X-Twilio-Signature": sign(SMS_URL, params)},
    )
    assert wrong.status_code == 403
    assert counts(db) == before

    response = client.post(
        "/twilio/sms",
        data=params,
        headers={**proxy, "X-Twilio-Signature": sign("https://sms.example.com/twilio/sms", params)},
    )
    assert response.status_code == 200
    assert counts(db)[0] > before[0]


def test_status_callback_unsigned_is_403(client: FlaskClient) -> None:
    params = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered"}
    assert client.post("/twilio/status", data=params).status_code == 403
    bad = client.post("/twilio/status", data=params, headers={"X-Twilio-Signature": "nope"})
    assert bad.status_code == 403
