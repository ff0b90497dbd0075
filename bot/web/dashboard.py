"""The numbers: a dashboard for compliance staff and managers (`GET /compliance/dashboard`) and
the same numbers as JSON (`GET /api/v1/metrics?since=YYYY-MM-DD&until=YYYY-MM-DD`).

Both take an inclusive range of UTC days (the last 30 days by default), compute it with
`bot.services.metrics` and write a `metrics.view` audit entry. The charts are drawn here as
inline SVG (no script, no CDN): their geometry is computed below, the template only places it.
Every chart also shows its numbers as text.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from bot.domain.money import format_money
from bot.services import metrics
from bot.services.audit import audit
from bot.web.agent_views import REASON_LABELS
from bot.web.auth import api_auth, api_error, role_required, staff_page_headers
from bot.web.deps import sessions, settings

log = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__, template_folder="../templates")

ROLES = ("compliance", "admin")
DEFAULT_DAYS = 30
PRESETS = (7, 30, 90)
HARDSHIP_LABELS = {
    "job_loss": "Job loss",
    "illness": "Illness or injury",
    "divorce": "Divorce or separation",
    "bereavement": "Bereavement",
    "disaster": "Disaster",
    "reduced_income": "Reduced income",
    "other": "Other",
}
DISPUTE_LABELS = {
    "not_mine": "Not mine",
    "already_paid": "Already paid",
    "wrong_amount": "Wrong amount",
    "identity_theft": "Identity theft",
    "other": "Other",
}
CHANNEL_LABELS = {"sms": "SMS", "web": "Web chat", "all": "All channels", "email": "Email"}


class BadRange(ValueError):
    """What the request asked for is not a usable range; the message says why."""


bp.after_request(staff_page_headers)


# ---------------------------------------------------------------------------- the range
def today() -> date:
    return datetime.now(UTC).date()


def _day(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else _invalid(name)
    except ValueError:
        return _invalid(name)


def _invalid(name: str) -> date:
    raise BadRange(f"{name} must be a date written YYYY-MM-DD")


def requested_range(now: date) -> tuple[date, date]:
    """since/until from the query string. Without until: today (or since, if later); without
    since: DEFAULT_DAYS days ending on until. BadRange when they make no usable range."""
    since, until = _day("since"), _day("until")
    try:
        if until is None:
            until = max(now, since) if since is not None else now
        if since is None:
            since = until - timedelta(days=DEFAULT_DAYS - 1)
        metrics.bounds(since, until)
    except OverflowError:
        raise BadRange("those dates are out of range") from None
    except metrics.InvalidRange as exc:
        raise BadRange(str(exc)) from None
    return since, until


def _compute_and_audit(since: date, until: date, user: Any, via: str) -> metrics.Metrics:
    with sessions().begin() as session:
        result = metrics.compute(
            session, since, until, today=today(), company_name=settings().company_name
        )
        audit(
            session,
            "metrics.view",
            user=user,  # a Staff snapshot: .id and .email are all audit() reads
            ip=request.remote_addr,
            detail={"since": since.isoformat(), "until": until.isoformat(), "via": via},
        )
    return result


# ---------------------------------------------------------------------------- API
@bp.get("/api/v1/metrics")
@api_auth(*ROLES)
def metrics_json() -> Any:
    try:
        since, until = requested_range(today())
    except BadRange as exc:
        return api_error(400, str(exc))
    try:
        result = _compute_and_audit(since, until, g.api_user, "api")
    except Exception:
        log.exception("metrics failed for %s..%s", since, until)
        return api_error(500, "internal error")
    return jsonify(result.as_dict())


# ---------------------------------------------------------------------------- the page
@bp.get("/compliance/dashboard")
@role_required(*ROLES)
def page() -> Any:
    now = today()
    error = None
    try:
        since, until = requested_range(now)
    except BadRange as exc:
        error = str(exc)
        since, until = now - timedelta(days=DEFAULT_DAYS - 1), now
    result = _compute_and_audit(since, until, current_user, "page")
    view = present(result, now)
    page_html = render_template(
        "compliance_dashboard.html",
        m=result,
        v=view,
        error=error,
        # The compliance pages' nav (with this page in it) when they are there.
        compliance_nav="compliance" in current_app.blueprints,
        nav="dashboard",
        is_admin=current_user.role == "admin",
    )
    return page_html, 400 if error else 200


# ---------------------------------------------------------------------------- presentation
@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    width: float  # percent of the longest bar
    note: str = ""
    url: str = ""  # where the row leads (the search for what it counts)


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    day: date
    count: int


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.0f}%"


def duration(seconds: int | None) -> str:
    """90 -> "1 min 30 s", 3720 -> "1 h 2 min"; "–" when there is none."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min"


def nice_ceiling(value: int) -> int:
    """The axis maximum: 1, 2 or 5 times a power of ten, at least `value` (and at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover


def bars(items: list[tuple[str, int, str]], urls: list[str] | None = None) -> list[Bar]:
    top = max((value for _, value, _ in items), default=0)
    return [
        Bar(label, value, round(100 * value / top, 1) if top else 0.0, note, url)
        for (label, value, note), url in zip(items, urls or [""] * len(items), strict=True)
    ]


def check_search_urls(m: metrics.Metrics) -> list[str]:
    """Each check's count leads to the transcript search for its conversations (the same
    date semantics), when the compliance pages are there."""
    if "compliance" not in current_app.blueprints:
        return []
    since, until = m.since.isoformat(), m.until.isoformat()
    return [
        url_for("compliance.search", flag=c.code, since=since, until=until)
        for c in m.checks.by_check
    ]


#: The per-day chart's drawing area, in SVG user units (it scales to the page's width).
CHART_W, CHART_H, CHART_LEFT, CHART_BOTTOM = 1000, 220, 40, 24


def columns(per_day: tuple[metrics.DayCount, ...]) -> dict[str, Any]:
    top = nice_ceiling(max((d.count for d in per_day), default=0))
    plot_w, plot_h = CHART_W - CHART_LEFT - 4, CHART_H - CHART_BOTTOM - 8
    slot = plot_w / max(len(per_day), 1)
    gap = min(slot * 0.2, 4)
    cols = []
    for i, d in enumerate(per_day):
        height = plot_h * d.count / top
        cols.append(
            Column(
                x=round(CHART_LEFT + i * slot + gap / 2, 2),
                y=round(8 + plot_h - height, 2),
                width=round(max(slot - gap, 1), 2),
                height=round(height, 2),
                day=d.day,
                count=d.count,
            )
        )
    values = sorted({0, top // 2, top} if top % 2 == 0 else {0, top})
    ticks = [(round(8 + plot_h * (1 - v / top), 2), v) for v in values]
    x_labels = []  # (x, text-anchor, label): the first day, the middle one, the last
    for i in sorted({0, len(cols) // 2, len(cols) - 1}) if cols else []:
        col = cols[i]
        if i == 0:
            x_labels.append((col.x, "start", _short(col.day)))
        elif i == len(cols) - 1:
            x_labels.append((round(col.x + col.width, 2), "end", _short(col.day)))
        else:
            x_labels.append((round(col.x + col.width / 2, 2), "middle", _short(col.day)))
    return {
        "width": CHART_W,
        "height": CHART_H,
        "left": CHART_LEFT,
        "base": 8 + plot_h,
        "columns": cols,
        "ticks": ticks,
        "x_labels": x_labels,
        "peak": max(per_day, key=lambda d: d.count) if per_day else None,
    }


def _short(day: date) -> str:
    return f"{day:%b} {day.day}"


SCORE_LABELS = {5: "5 (great)", 1: "1 (poor)"}


def satisfaction(m: metrics.Metrics) -> dict[str, Any] | None:
    """The CSAT tile and panel: the rate, the average, a bar per score (5 first) and the latest
    comments, each leading to its transcript when the compliance pages are there."""
    c = m.csat
    if c is None:
        return None
    transcripts = "compliance" in current_app.blueprints
    return {
        "rate": percent(c.csat_rate),
        "average": f"{c.average:.1f}",
        "bars": bars(
            [
                (SCORE_LABELS.get(score, str(score)), c.distribution.get(score, 0), "")
                for score in sorted(c.distribution, reverse=True)
            ]
        ),
        "comments": [
            {
                "score": comment.score,
                "text": comment.comment,
                "when": f"{comment.created_at:%b} {comment.created_at.day}",
                "at": comment.created_at.isoformat(),
                "url": url_for("compliance.conversation", conversation_id=comment.conversation_id)
                if transcripts
                else "",
            }
            for comment in c.comments
        ],
    }


def present(m: metrics.Metrics, now: date) -> dict[str, Any]:
    """What the template shows besides the raw numbers: chart geometry, labels, formatting."""
    h, p, c = m.handoffs, m.promises, m.cases
    presets = []
    for days in PRESETS:
        since = now - timedelta(days=days - 1)
        presets.append(
            {
                "label": f"Last {days} days",
                "url": url_for("dashboard.page", since=since.isoformat(), until=now.isoformat()),
                "current": (m.since, m.until) == (since, now),
            }
        )
    return {
        "presets": presets,
        "api_url": url_for(
            "dashboard.metrics_json", since=m.since.isoformat(), until=m.until.isoformat()
        ),
        "range_label": f"{m.since:%b} {m.since.day}, {m.since.year} – "
        f"{m.until:%b} {m.until.day}, {m.until.year}",
        "containment": percent(m.conversations.containment_rate),
        "verification": percent(m.verification.success_rate),
        "kept": percent(p.kept_rate),
        "csat": satisfaction(m),
        "channels": ", ".join(
            f"{CHANNEL_LABELS.get(k, k)} {n}" for k, n in m.conversations.by_channel.items()
        ),
        "per_day": columns(m.conversations.per_day),
        "median_wait": duration(h.median_wait_seconds),
        "p90_wait": duration(h.p90_wait_seconds),
        "handoffs": bars(
            [
                (
                    REASON_LABELS.get(r.reason, r.reason),
                    r.count,
                    f"median wait {duration(r.median_wait_seconds)}" if r.claimed else "",
                )
                for r in sorted(h.by_reason, key=lambda r: -r.count)
            ]
        ),
        "reason_rows": [
            {
                "label": REASON_LABELS.get(r.reason, r.reason),
                "count": r.count,
                "claimed": r.claimed,
                "median": duration(r.median_wait_seconds),
                "p90": duration(r.p90_wait_seconds),
            }
            for r in h.by_reason
        ],
        "hardship": bars(
            [(HARDSHIP_LABELS.get(k, k), n, "") for k, n in c.hardship_by_category.items()]
        ),
        "disputes": bars(
            [(DISPUTE_LABELS.get(k, k), n, "") for k, n in c.disputes_by_reason.items()]
        ),
        "checks": bars(
            [
                (ch.title, ch.conversations, f"rule {ch.rule}" if ch.rule else "")
                for ch in m.checks.by_check
            ],
            check_search_urls(m),
        ),
        "opt_outs": bars(
            [(CHANNEL_LABELS.get(k, k), n, "") for k, n in m.consent.opt_outs_by_channel.items()]
        ),
        "money": {
            "scheduled": format_money(m.plans.scheduled_cents),
            "promised": format_money(p.amount_cents),
            "kept": format_money(p.kept_amount_cents),
        },
    }
