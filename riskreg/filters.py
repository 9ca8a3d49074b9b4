"""Template context and filters (translated values, dates in the local time zone)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import gettext as _

from riskreg.web import select_locale


def register_template_helpers(app: Flask) -> None:
    from riskreg import permissions
    from riskreg.plans.models import SECTION_TITLES

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {
            "perm": permissions.TEMPLATE_PREDICATES,
            "section_titles": {k.value: _(v) for k, v in SECTION_TITLES.items()},
            "current_locale": select_locale(),
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
