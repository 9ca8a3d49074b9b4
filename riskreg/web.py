"""Web helpers every feature's views use: ids and versions from requests, safe redirects,
the locale, and the request hooks that apply to every page (size limits, control characters,
audit context, security headers). Views import these from here, never from the factory."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    has_request_context,
    redirect,
    request,
    send_file,
    session,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response as WResponse

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


def same_site_referrer() -> str | None:
    """The page the form came from, as a path on this site (for a "back" link), or None."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc and parts.netloc != request.host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def limit_plain_forms(app: Flask) -> None:
    """Only uploads may be big. Werkzeug reads a url-encoded body whole, up to
    MAX_CONTENT_LENGTH (sized for uploads); every other request gets MAX_FORM_BYTES."""

    @app.before_request
    def limit_plain_form_size() -> None:
        if request.mimetype != "multipart/form-data":
            limits = (app.config.get("MAX_CONTENT_LENGTH"), app.config.get("MAX_FORM_BYTES"))
            request.max_content_length = min((v for v in limits if v), default=None)


def select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands, services, exports run outside requests
        chosen_for_commands = current_app.config.get("LANGUAGE")
        if chosen_for_commands in languages:
            return str(chosen_for_commands)
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if isinstance(chosen, str) and chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def register_request_hooks(app: Flask) -> None:
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


def item_href(path: str) -> str:
    """An item's page (a path the controls feature builds) as a path under this installation."""
    return request.script_root + path


def send_evidence(
    stored_name: str, content_type: str, file_name: str, *, missing_url: str
) -> Response | WResponse:
    """A stored evidence file as a download, or back to ``missing_url`` when it is gone.

    The sniffed type and an attachment: a stored file is never shown as a page of ours."""
    from riskreg.storage import evidence_dir

    path = evidence_dir(current_app.instance_path) / stored_name
    if not path.is_file():
        flash(_("Filen finns inte längre i lagringen."), "danger")
        return redirect(missing_url)
    return send_file(
        path, mimetype=content_type, as_attachment=True, download_name=file_name, max_age=0
    )
