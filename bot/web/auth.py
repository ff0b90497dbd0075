"""Staff sign-in (Flask-Login sessions, Flask-WTF CSRF on every form), roles, and bearer
tokens for the JSON API. Every staff page and API route declares the roles it admits."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from bot.models import StaffUser
from bot.services.audit import audit
from bot.services.users import check_password, get_user, user_for_token
from bot.web.deps import sessions

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
csrf = CSRFProtect()


class Staff:
    """What Flask-Login keeps of a signed-in staff user (a detached snapshot)."""

    def __init__(self, user: StaffUser) -> None:
        self.id, self.email, self.role, self.active = user.id, user.email, user.role, user.active

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)


@login_manager.user_loader
def load_user(user_id: str) -> Staff | None:
    with sessions()() as session:
        user = session.get(StaffUser, int(user_id)) if user_id.isdigit() else None
        return Staff(user) if user is not None and user.active else None


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Sign-in. Failed attempts are audited ("login.failed") and throttled per email and per
    address (bot/web/limits.py: a 429 on this page, audited as "login.throttled")."""
    form = LoginForm()
    if form.validate_on_submit():
        with sessions()() as session:
            user = get_user(session, form.email.data or "")
            if user is not None and check_password(user, form.password.data or ""):
                login_user(Staff(user))
                target = request.args.get("next", "")
                if not target.startswith("/") or target.startswith("//"):
                    target = url_for("agent.queue" if user.role == "agent" else "compliance.search")
                return redirect(target)
        flash("That email and password do not match.", "error")
    if request.method == "POST":
        _audit_failed_login(form)
    return render_template("login.html", form=form), 200 if request.method == "GET" else 401


def _audit_failed_login(form: LoginForm) -> None:
    """Who tried, from where; never the password."""
    email = str(request.form.get("email", "")).strip().lower()[:254]
    with sessions().begin() as session:
        user = get_user(session, email) if email else None
        audit(
            session,
            "login.failed",
            user=user,
            actor=email or "anonymous",
            ip=(request.remote_addr or "")[:64] or None,
            detail={"known_user": user is not None, "form_valid": not form.errors},
        )


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    return redirect(url_for("auth.login"))


def role_required(*roles: str):  # type: ignore[no-untyped-def]
    """A staff page: signed in (else to the login page) with one of `roles` (else 403)."""

    def decorate(view):  # type: ignore[no-untyped-def]
        @wraps(view)
        @login_required
        def checked(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        checked.roles = roles  # type: ignore[attr-defined]
        return checked

    return decorate


def api_error(status: int, message: str):  # type: ignore[no-untyped-def]
    return jsonify(error=message), status


def api_auth(*roles: str):  # type: ignore[no-untyped-def]
    """A JSON API route: `Authorization: Bearer <token>` of an active staff user with one of
    `roles`. 401 without a valid token, 403 for another role. The user is `g.api_user`."""

    def decorate(view):  # type: ignore[no-untyped-def]
        @wraps(view)
        def checked(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return api_error(401, "a bearer token is required")
            with sessions().begin() as session:
                user = user_for_token(session, token.strip())
                staff = Staff(user) if user is not None else None
            if staff is None:
                return api_error(401, "invalid or revoked token")
            if staff.role not in roles:
                return api_error(403, "your role may not do this")
            g.api_user = staff
            return view(*args, **kwargs)

        checked.roles = roles  # type: ignore[attr-defined]
        return checked

    return decorate


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    login_manager.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(bp)


def staff_page_headers(response: Response) -> Response:
    """The staff pages' headers: a strict CSP (no inline script), no sniffing, no caching of
    transcripts in the browser."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers["Cache-Control"] = "no-store"
    return response
