"""riskreg: internal control and risk register for Swedish healthcare regions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.engine import Engine

from riskreg.config import instance_path_from_env, load_config
from riskreg.errorpages import register_error_pages
from riskreg.filters import register_template_helpers
from riskreg.i18n import N_
from riskreg.web import DatabaseId, limit_plain_forms, register_request_hooks, select_locale

#: The source checkout (instance/ lives here in development); not part of an installed wheel.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The package folder: templates/, static/ and migrations/ ship inside it (package data).
PACKAGE_DIR = Path(__file__).resolve().parent


def create_app(
    test_config: dict[str, Any] | None = None, instance_path: str | Path | None = None
) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(instance_path or instance_path_from_env(PROJECT_ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(PACKAGE_DIR / "templates"),
        static_folder=str(PACKAGE_DIR / "static"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, test_config)
    _trust_proxy_headers(app)
    limit_plain_forms(app)  # before the extensions: CSRF protection reads the form
    app.url_map.converters["int"] = DatabaseId  # before any route is added
    _init_extensions(app)
    _register_blueprints(app)
    register_request_hooks(app)
    register_error_pages(app)
    register_template_helpers(app)
    from riskreg.cli import register_commands

    register_commands(app)
    return app


def _trust_proxy_headers(app: Flask) -> None:
    """Behind a TLS-terminating proxy, take the client address and scheme from its headers.

    Only as many hops as configured are trusted (PROXY_FIX_X_FOR=1: the nearest proxy's
    X-Forwarded-For entry), so a client cannot forge its address by sending the header itself.
    The audit trail's IP and the login throttle use request.remote_addr, which this sets.
    """
    from werkzeug.middleware.proxy_fix import ProxyFix

    hops = {
        name: int(app.config.get(f"PROXY_FIX_X_{name.upper()}") or 0)
        for name in ("for", "proto", "host", "port", "prefix")
    }
    if any(hops.values()):
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=hops["for"],
            x_proto=hops["proto"],
            x_host=hops["host"],
            x_port=hops["port"],
            x_prefix=hops["prefix"],
        )


def _init_extensions(app: Flask) -> None:
    from riskreg.extensions import babel, csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PACKAGE_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = N_("Logga in för att fortsätta.")
    login_manager.localize_callback = _
    login_manager.login_message_category = "info"
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    # The login throttle counts with `limits` itself; no other route is rate-limited.
    from riskreg.auth import throttle

    throttle.init_app(app)

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
    # Single sign-on: its routes and session check exist only when OIDC_ISSUER is set.
    from riskreg.sso.views import init_app as init_sso

    init_sso(app)
