"""riskreg: internal control and risk register for Swedish healthcare regions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, has_request_context, render_template, request, session
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from riskreg.config import instance_path_from_env, load_config
from riskreg.i18n import N_

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
    _limit_plain_forms(app)  # before the extensions: CSRF protection reads the form
    app.url_map.converters["int"] = DatabaseId  # before any route is added
    _init_extensions(app)
    _register_blueprints(app)
    _register_request_hooks(app)
    _register_error_pages(app)
    _register_template_helpers(app)
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


#: The largest id a database column holds (PostgreSQL INTEGER); larger ones overflow the driver.
MAX_ID = 2**31 - 1


class DatabaseId(IntegerConverter):
    """`<int:...>` that matches only ids a database column can hold: /plans/99999999999 is a
    plain 404 instead of an overflow in the database driver (a 500)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def safe_next(target: str | None) -> str | None:
    """A redirect target from a form or query, if it is a path on this site; else None.

    Absolute and scheme-relative URLs are refused, and so are backslashes: browsers read
    ``/\\evil.example`` as ``//evil.example``, another site.
    """
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    return target


def parse_id(value: str | None) -> int | None:
    """An id from a query parameter, or None: ASCII digits only ("¹".isdigit() is true but
    int() refuses it) and within what the database holds."""
    if not value or len(value) > 10 or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def parse_version(value: str | None) -> int:
    """The version a form was loaded with. Missing or unreadable never matches any stored
    version, so a forged or damaged form ends as a conflict, never as a crash or an overwrite."""
    parsed = parse_id(value)
    return -1 if parsed is None else parsed


def _limit_plain_forms(app: Flask) -> None:
    """Only uploads may be big. Werkzeug reads a url-encoded body whole, up to
    MAX_CONTENT_LENGTH (sized for uploads); every other request gets MAX_FORM_BYTES."""

    @app.before_request
    def limit_plain_form_size() -> None:
        if request.mimetype != "multipart/form-data":
            limits = (app.config.get("MAX_CONTENT_LENGTH"), app.config.get("MAX_FORM_BYTES"))
            request.max_content_length = min((v for v in limits if v), default=None)


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
        locale_selector=_select_locale,
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


def _select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands, services, exports run outside requests
        return current_app.config["BABEL_DEFAULT_LOCALE"]
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

    @app.before_request
    def refuse_control_characters() -> None:
        """No form field or query parameter may carry control characters.

        NUL cannot be stored in PostgreSQL at all (psycopg raises: a 500 for the user), and no
        other C0 control character belongs in what people type. Tab, line breaks and the
        vertical tab and form feed that text pasted from Word brings along are allowed.
        One check here covers every form of every feature.
        """
        for source in (request.args, request.form):
            for values in source.listvalues():
                if any(_CONTROL_CHARACTERS.search(value) for value in values):
                    raise ControlCharacters()

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
        if request.endpoint != "static":
            # Pages and exports hold what only this user may see: no browser or proxy keeps
            # a copy (the back button after logout, a shared computer). Static files cache.
            response.headers["Cache-Control"] = "no-store"
            response.headers.pop("Expires", None)
        return response


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0e-\x1f]")


class ControlCharacters(BadRequest):
    """A form field or query parameter holds a control character (see the request hook)."""


#: What the loser of a race reads (StaleDataError or a unique constraint at commit).
CONFLICT_MESSAGE = N_(
    "Någon annan sparade samma sak samtidigt. Dina ändringar har inte sparats; "
    "ladda om sidan, se vad som gäller nu och försök igen om det behövs."
)


def _same_site_referrer() -> str | None:
    """The page the form came from, as a path on this site (for a "back" link), or None."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc and parts.netloc != request.host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


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
        from riskreg.uploads import format_size

        # Nothing of the request was handled: werkzeug refuses it while reading the body.
        db.session.rollback()
        # The request's own limit (MAX_CONTENT_LENGTH, or MAX_FORM_BYTES for plain forms).
        limit = request.max_content_length
        if not limit:
            return render_error(413, _("För mycket data"), _("Inget har sparats."))
        if request.mimetype == "multipart/form-data":  # an upload
            title = _("Filen är för stor")
            message = _("Filen är större än %(size)s. Inget har sparats.", size=format_size(limit))
        else:
            title = _("För mycket data")
            message = _("Det du skickade är större än %(size)s. Inget har sparats.",
                        size=format_size(limit))
        return render_error(413, title, message)

    @app.errorhandler(ControlCharacters)
    def control_characters(error: Any) -> tuple[str, int]:
        db.session.rollback()
        return render_error(
            400,
            _("Otillåtna tecken"),
            _(
                "Det du skickade innehåller osynliga styrtecken som inte kan sparas. "
                "Inget har sparats. Skriv in texten på nytt i stället för att klistra in den, "
                "och försök igen."
            ),
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

    @app.errorhandler(StaleDataError)
    @app.errorhandler(IntegrityError)
    def lost_race(error: Exception) -> tuple[str, int]:
        """The one place where a lost race ends, for every view: a conflict, never a 500.

        Two requests carrying the same version both pass the service's version check; the
        database lets one UPDATE ... WHERE version = n through and the other finds no row
        (StaleDataError at flush or commit). A concurrent insert that a pre-check missed hits
        a unique constraint (IntegrityError). Nothing of the request is kept.
        """
        db.session.rollback()
        app.logger.warning("Conflict at %s %s: %s", request.method, request.path, error)
        return render_template(
            "error.html",
            code=409,
            title=_("Någon annan hann före"),
            message=_(CONFLICT_MESSAGE),
            back=_same_site_referrer(),
        ), 409

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

    @app.template_filter("tr")
    def translate_value(value: Any) -> str:
        """Translate a value that may come from the database (level names, attributes).

        Jinja's own _() marks its result safe, which is right for literal source strings but
        would render a user's text unescaped; this returns a plain str, so autoescape applies.
        """
        from flask_babel import gettext

        return str(gettext(str(value))) if value else ""

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
