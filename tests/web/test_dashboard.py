"""The numbers on the web (bot/web/dashboard.py): the compliance dashboard page and
GET /api/v1/metrics. Roles (compliance and admin; agents 403; anonymous to the login page or
401), the date range (presets, custom, default last 30 days, bad dates), the JSON shape, the
charts drawn without script, and an audit entry for every view."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (
    Account,
    AuditLog,
    Handoff,
    Installment,
    Outreach,
    PaymentPlan,
    SurveyResponse,
)
from bot.services.users import Role, issue_token
from bot.web.dashboard import duration, nice_ceiling
from tests.conftest import make_conversation
from tests.integration.factories import STAFF_PASSWORD, make_staff_user

PAGE = "/compliance/dashboard"
API = "/api/v1/metrics"
EMAILS = {
    Role.AGENT: "agent@test.example",
    Role.COMPLIANCE: "compliance@test.example",
    Role.ADMIN: "admin@test.example",
}


def today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture
def staff(session: Session) -> dict[Role, str]:
    """An API token for a user of each role."""
    tokens = {}
    for role, email in EMAILS.items():
        make_staff_user(session, email, role)
        tokens[role] = issue_token(session, email)
    session.commit()
    return tokens


@pytest.fixture
def activity(session: Session) -> None:
    """In the week of 1-7 Nov 2026: three conversations (one handed off, claimed after 90 s),
    one plan of $450.00. And yesterday one web conversation, for the default range."""
    account = session.scalar(select(Account).where(Account.account_ref == "ACC-100234"))
    assert account is not None
    start = datetime(2026, 11, 3, 15, tzinfo=UTC)
    conversations = [
        make_conversation(session, account, address=f"+1206555000{i}", started_at=start)
        for i in range(3)
    ]
    session.add(
        Handoff(
            conversation_id=conversations[0].id,
            reason="attorney",
            status="active",
            created_at=start,
            claimed_at=start + timedelta(seconds=90),
        )
    )
    session.add(
        PaymentPlan(
            account_id=account.id,
            option_key="monthly_3",
            kind="installments",
            frequency="monthly",
            balance_cents=45000,
            total_cents=45000,
            created_by="bot",
            created_at=start,
            installments=[
                Installment(seq=i, due_on=date(2026, 12, i), amount_cents=15000) for i in (1, 2, 3)
            ],
        )
    )
    yesterday = datetime.now(UTC) - timedelta(days=1)
    make_conversation(session, account, channel="web", address="web-1", started_at=yesterday)
    session.commit()


def csrf_token(client: FlaskClient) -> str:
    page = client.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def signed_in(app: Flask, role: Role) -> FlaskClient:
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": EMAILS[role], "password": STAFF_PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_entries(session: Session) -> list[AuditLog]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditLog).where(AuditLog.action == "metrics.view").order_by(AuditLog.id)
        )
    )


# ---------------------------------------------------------------------------- the page
def test_compliance_sees_the_numbers_for_the_range_asked(
    app: Flask, staff: dict[Role, str], activity: None, session: Session
) -> None:
    client = signed_in(app, Role.COMPLIANCE)
    response = client.get(PAGE, query_string={"since": "2026-11-01", "until": "2026-11-07"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The numbers" in html
    assert 'type="date" id="since" name="since" value="2026-11-01"' in html
    assert 'type="date" id="until" name="until" value="2026-11-07"' in html
    tile = re.search(r"Conversations</p>\s*<p class=\"tile-value\">(\d+)<", html)
    assert tile and tile.group(1) == "3"
    assert "67%" in html  # two of three conversations had no handoff
    assert "2 of 3 conversations had no handoff" in html
    assert "$450.00" in html  # scheduled in the plan
    assert "1 min 30 s" in html  # the one wait
    assert "No survey answers yet" in html
    assert "<svg" in html and "<script" not in html
    assert "2026-11-03: 3" in html  # the column's tooltip and the table
    assert '<caption id="handoff-reasons">Handoffs by reason</caption>' in html
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["Cache-Control"] == "no-store"
    [entry] = audit_entries(session)
    assert entry.actor == EMAILS[Role.COMPLIANCE]
    assert entry.detail == {"since": "2026-11-01", "until": "2026-11-07", "via": "page"}


def test_the_page_shows_the_last_30_days_by_default_with_presets(
    app: Flask, staff: dict[Role, str], activity: None, session: Session
) -> None:
    response = signed_in(app, Role.ADMIN).get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    since = today() - timedelta(days=29)
    assert f'name="since" value="{since.isoformat()}"' in html
    assert f'name="until" value="{today().isoformat()}"' in html
    for days in (7, 30, 90):
        start = (today() - timedelta(days=days - 1)).isoformat()
        assert f'href="{PAGE}?since={start}&amp;until={today().isoformat()}"' in html
    assert 'aria-current="page">Last 30 days<' in html
    assert audit_entries(session)[-1].detail["since"] == since.isoformat()


def test_a_bad_date_on_the_page_says_so_and_shows_the_default_range(
    app: Flask, staff: dict[Role, str]
) -> None:
    response = signed_in(app, Role.COMPLIANCE).get(PAGE, query_string={"since": "yesterday"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "since must be a date written YYYY-MM-DD" in html
    assert f'name="until" value="{today().isoformat()}"' in html


def test_an_empty_range_shows_zeros(app: Flask, staff: dict[Role, str]) -> None:
    response = signed_in(app, Role.COMPLIANCE).get(
        PAGE, query_string={"since": "2020-01-01", "until": "2020-01-07"}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No handoffs in this range." in html
    assert "No hardship recorded in this range." in html


def test_an_agent_is_refused_the_page(app: Flask, staff: dict[Role, str], session: Session) -> None:
    assert signed_in(app, Role.AGENT).get(PAGE).status_code == 403
    assert audit_entries(session) == []


def test_anonymous_visitors_go_to_the_login_page(app: Flask) -> None:
    response = app.test_client().get(PAGE)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# ---------------------------------------------------------------------------- the API
def test_the_api_answers_the_numbers_as_json(
    client: FlaskClient, staff: dict[Role, str], activity: None, session: Session
) -> None:
    response = client.get(
        API + "?since=2026-11-01&until=2026-11-07", headers=bearer(staff[Role.COMPLIANCE])
    )
    assert response.status_code == 200
    data: dict[str, Any] = response.get_json()
    assert set(data) == {
        "since", "until", "days", "conversations", "handoffs", "verification", "plans",
        "promises", "cases", "consent", "checks", "csat",
    }  # fmt: skip
    assert (data["since"], data["until"], data["days"]) == ("2026-11-01", "2026-11-07", 7)
    conversations = data["conversations"]
    assert conversations["total"] == 3
    assert conversations["by_channel"] == {"sms": 3, "web": 0}
    assert conversations["contained"] == 2
    assert conversations["containment_rate"] == 0.6667
    assert conversations["per_day"][2] == {"day": "2026-11-03", "count": 3}
    assert len(conversations["per_day"]) == 7
    assert data["handoffs"]["total"] == 1
    assert data["handoffs"]["median_wait_seconds"] == 90
    attorney = next(r for r in data["handoffs"]["by_reason"] if r["reason"] == "attorney")
    assert attorney == {
        "reason": "attorney",
        "count": 1,
        "claimed": 1,
        "median_wait_seconds": 90,
        "p90_wait_seconds": 90,
    }
    assert data["plans"]["scheduled_cents"] == 45000
    assert data["plans"]["scheduled"] == "$450.00"
    assert data["promises"]["kept_rate"] is None
    assert {c["code"] for c in data["checks"]["by_check"]} >= {"contact_window"}
    assert data["csat"] is None
    [entry] = audit_entries(session)
    assert entry.actor == EMAILS[Role.COMPLIANCE]
    assert entry.detail == {"since": "2026-11-01", "until": "2026-11-07", "via": "api"}


def test_the_api_range_defaults_to_the_last_30_days(
    client: FlaskClient, staff: dict[Role, str], activity: None
) -> None:
    data = client.get(API, headers=bearer(staff[Role.ADMIN])).get_json()
    assert data["until"] == today().isoformat()
    assert data["since"] == (today() - timedelta(days=29)).isoformat()
    assert data["days"] == 30
    assert data["conversations"]["by_channel"]["web"] == 1
    only_since = client.get(
        API, query_string={"since": "2026-11-01"}, headers=bearer(staff[Role.ADMIN])
    ).get_json()
    assert only_since["since"] == "2026-11-01"
    assert only_since["until"] == max(today(), date(2026, 11, 1)).isoformat()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "2026-13-01"}, "since must be a date"),
        ({"until": "tomorrow"}, "until must be a date"),
        ({"since": "2026-11-1"}, "since must be a date"),
        ({"since": "2026-11-08", "until": "2026-11-01"}, "until must not be before since"),
        ({"since": "2020-01-01", "until": "2026-01-01"}, "at most 731 days"),
        ({"since": "9999-12-30", "until": "9999-12-31"}, "until must be before 9999-12-31"),
        ({"until": "0001-01-05"}, "out of range"),
    ],
)
def test_a_bad_range_is_a_json_400(
    client: FlaskClient,
    staff: dict[Role, str],
    session: Session,
    query: dict[str, str],
    message: str,
) -> None:
    response = client.get(API, query_string=query, headers=bearer(staff[Role.COMPLIANCE]))
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert audit_entries(session) == []


def test_the_api_wants_a_compliance_or_admin_token(
    client: FlaskClient, staff: dict[Role, str]
) -> None:
    missing = client.get(API)
    assert missing.status_code == 401
    assert missing.get_json()["error"]
    assert client.get(API, headers=bearer("cat_not-a-token")).status_code == 401
    refused = client.get(API, headers=bearer(staff[Role.AGENT]))
    assert refused.status_code == 403
    assert refused.get_json() == {"error": "your role may not do this"}
    assert client.get(API, headers=bearer(staff[Role.ADMIN])).status_code == 200


# ---------------------------------------------------------------------------- formatting
@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (0, "0 s"), (59, "59 s"), (60, "1 min"), (90, "1 min 30 s"), (3720, "1 h 2 min")],
)
def test_durations_read_like_people_say_them(seconds: int | None, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (230, 500)]
)
def test_the_chart_axis_ends_on_a_round_number(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling


# ---------------------------------------------------------------------------- satisfaction
@pytest.fixture
def survey_answers(session: Session, activity: None) -> list[str]:
    """Four answers to the survey on 4 Nov 2026 (5, 5, 4 and 1; two with comments), after the
    conversations of `activity`. Returns the conversation ids, in the order answered."""
    account = session.scalar(select(Account).where(Account.account_ref == "ACC-100234"))
    assert account is not None
    when = datetime(2026, 11, 4, 9, tzinfo=UTC)
    answered = []
    for i, (score, comment) in enumerate(
        [(5, None), (5, "Quick & easy <3"), (4, None), (1, "too slow")]
    ):
        conv = make_conversation(session, account, address=f"+1206555010{i}", started_at=when)
        survey = Outreach(
            kind="survey",
            target=f"conversation:{conv.id}",
            account_id=account.id,
            conversation_id=conv.id,
        )
        session.add(survey)
        session.flush()
        session.add(
            SurveyResponse(
                outreach_id=survey.id,
                conversation_id=conv.id,
                account_id=account.id,
                score=score,
                comment=comment,
                created_at=when + timedelta(minutes=i),
            )
        )
        answered.append(conv.id)
    session.commit()
    return answered


def test_the_page_shows_csat_its_distribution_and_the_latest_comments(
    app: Flask, staff: dict[Role, str], survey_answers: list[str]
) -> None:
    client = signed_in(app, Role.COMPLIANCE)
    response = client.get(PAGE, query_string={"since": "2026-11-01", "until": "2026-11-07"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No survey answers yet" not in html
    tile = re.search(r'Satisfaction</p>\s*<p class="tile-value">([^<]+)<', html)
    assert tile and tile.group(1) == "75%"  # three of four gave 4 or 5
    assert "3 of 4 answers gave 4 or 5 &middot; average 3.8 / 5" in html
    assert '<caption id="csat-scores">Answers by score</caption>' in html
    scores = re.findall(
        r'<th scope="row">([^<]+)</th>.*?<td class="bar-value">(\d+)</td>',
        html.split('id="csat-scores"')[1].split("</table>")[0],
        re.S,
    )
    assert scores == [("5 (great)", "2"), ("4", "1"), ("3", "0"), ("2", "0"), ("1 (poor)", "1")]
    comments = html.split('class="csat-comments"')[1].split("</ul>")[0]
    assert comments.index("too slow") < comments.index("Quick &amp; easy &lt;3")  # escaped
    assert f'href="/compliance/conversations/{survey_answers[3]}"' in comments
    assert "<script" not in html


def test_a_range_without_answers_still_says_none_yet(
    app: Flask, staff: dict[Role, str], survey_answers: list[str]
) -> None:
    html = (
        signed_in(app, Role.COMPLIANCE)
        .get(PAGE, query_string={"since": "2026-11-05", "until": "2026-11-07"})
        .get_data(as_text=True)
    )
    assert "No survey answers yet" in html
    assert 'id="csat-scores"' not in html


def test_the_api_includes_csat(
    client: FlaskClient, staff: dict[Role, str], survey_answers: list[str]
) -> None:
    data = client.get(
        API + "?since=2026-11-01&until=2026-11-07", headers=bearer(staff[Role.COMPLIANCE])
    ).get_json()
    csat = data["csat"]
    assert (csat["responses"], csat["average"], csat["satisfied"]) == (4, 3.75, 3)
    assert csat["csat_rate"] == 0.75
    assert csat["distribution"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 2}
    assert [(c["score"], c["comment"]) for c in csat["comments"]] == [
        (1, "too slow"),
        (5, "Quick & easy <3"),
    ]
    assert csat["comments"][0]["conversation_id"] == survey_answers[3]
