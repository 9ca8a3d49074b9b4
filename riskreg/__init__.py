"""riskreg: internal control and risk register for Swedish healthcare regions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, render_template, request, session
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

from riskreg.config import instance_path_from_env, load_config
from riskreg.i18n import N_

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(
    test_config: dict[str, Any] | None = None, instance_path: str | Path | None = None
) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(instance_path or instance_path_from_env(PROJECT_ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, test_config)
    _init_extensions(app)
    _register_blueprints(app)
    _register_request_hooks(app)
    _register_error_pages(app)
    _register_template_helpers(app)
    from riskreg.cli import register_commands

    register_commands(app)
    return app


def _init_extensions(app: Flask) -> None:
    from riskreg.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = N_("Logga in för att fortsätta.")
    login_manager.localize_callback = _
    login_manager.login_message_category = "info"
    babel.init_app(
        app,
        locale_selector=_select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    limiter.init_app(app)

    from riskreg.auth.models import User

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        try:
            ident, epoch = (int(part) for part in user_id.split(":"))
        except ValueError:
            return None
        user = db.session.get(User, ident)
        # A password change bumps the epoch and so ends every older session.
        if user is None or user.session_epoch != epoch or not user.active:
            return None
        return user


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
        # SQLite's own lower() folds ASCII only; text search must match "Åtgärd" with "åtgärd".
        dbapi_connection.create_function(
            "lower", 1, lambda v: v.lower() if isinstance(v, str) else v, deterministic=True
        )


def _select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


FEATURES = (
    "auth",
    "dashboard",
    "plans",
    "risks",
    "controls",
    "sampling",
    "reminders",
    "reports",
    "audit",
    "admin",
)


def _register_blueprints(app: Flask) -> None:
    import importlib

    import riskreg.models  # noqa: F401 - the full metadata before any query

    for feature in FEATURES:
        app.register_blueprint(importlib.import_module(f"riskreg.{feature}.views").bp)


def _register_request_hooks(app: Flask) -> None:
    from riskreg.audit.context import AuditContext, set_context

    @app.before_request
    def set_audit_context() -> None:
        if current_user.is_authenticated:
            set_context(
                AuditContext(
                    actor_id=current_user.id,
                    actor_name=current_user.username,
                    ip=request.remote_addr,
                )
            )
        else:
            set_context(AuditContext(actor_name="anonym", ip=request.remote_addr))

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _register_error_pages(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    from riskreg.extensions import db

    def render_error(code: int, title: str, message: str) -> tuple[str, int]:
        return render_template("error.html", code=code, title=title, message=message), code

    @app.errorhandler(403)
    def forbidden(error: Any) -> tuple[str, int]:
        return render_error(
            403, _("Åtkomst nekad"), _("Du har inte behörighet till den här sidan.")
        )

    @app.errorhandler(404)
    def not_found(error: Any) -> tuple[str, int]:
        return render_error(404, _("Sidan finns inte"), _("Sidan eller posten finns inte."))

    @app.errorhandler(413)
    def too_large(error: Any) -> tuple[str, int]:
        limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return render_error(
            413, _("Filen är för stor"), _("Filen är större än %(mb)s MB.", mb=limit)
        )

    @app.errorhandler(CSRFError)
    def csrf_error(error: Any) -> tuple[str, int]:
        return render_error(
            400,
            _("Formuläret kunde inte tas emot"),
            _(
                "Formuläret har gått ut eller kom inte från riskreg. "
                "Ladda om sidan och försök igen."
            ),
        )

    @app.errorhandler(500)
    def server_error(error: Any) -> tuple[str, int]:
        db.session.rollback()
        return render_error(500, _("Något gick fel"), _("Ett oväntat fel inträffade."))


def _register_template_helpers(app: Flask) -> None:
    from riskreg import permissions
    from riskreg.plans.models import SECTION_TITLES

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {
            "perm": permissions.TEMPLATE_PREDICATES,
            "section_titles": {k.value: _(v) for k, v in SECTION_TITLES.items()},
            "current_locale": _select_locale(),
        }

    @app.template_filter("date_sv")
    def date_sv(value: Any) -> str:
        return value.isoformat() if value else ""

    @app.template_filter("datetime_local")
    def datetime_local(value: Any) -> str:
        from zoneinfo import ZoneInfo

        if not value:
            return ""
        return value.astimezone(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])).strftime(
            "%Y-%m-%d %H:%M"
        )
