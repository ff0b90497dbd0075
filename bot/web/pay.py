"""The payment link's landing page (GET /pay/<token>). A placeholder: a payment provider would
take the payment here. It never asks for card details; a bad or expired link gets a 404 page."""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template

from bot.domain.money import format_money
from bot.services.payments import read_payment_token
from bot.web.deps import settings

bp = Blueprint("pay", __name__, template_folder="../templates")


@bp.after_request
def _headers(response: Response) -> Response:
    # The token is in the URL: keep it out of caches and other sites' Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    )
    return response


@bp.get("/pay/<token>")
def payment_page(token: str) -> Response:
    found = read_payment_token(token[:1000], secret_key=settings().secret_key)
    if found is None:
        page = render_template(
            "error.html",
            company_name=settings().company_name,
            support_phone=settings().support_phone,
            title="Payment link not valid",
            message="This payment link is not valid or has expired. Ask the assistant for a "
            "new link, or call us.",
        )
        return make_response(page, 404)
    account_ref, amount_cents = found
    return make_response(
        render_template(
            "pay.html",
            company_name=settings().company_name,
            support_phone=settings().support_phone,
            account_ref=account_ref,
            amount=format_money(amount_cents),
        )
    )
