"""Error pages: what a refused, missing, too large or lost-race request shows."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from riskreg.i18n import N_
from riskreg.web import ControlCharacters, same_site_referrer

#: What the loser of a race reads (StaleDataError or a unique constraint at commit).
CONFLICT_MESSAGE = N_(
    "Någon annan sparade samma sak samtidigt. Dina ändringar har inte sparats; "
    "ladda om sidan, se vad som gäller nu och försök igen om det behövs."
)


def register_error_pages(app: Flask) -> None:
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
            message = _(
                "Det du skickade är större än %(size)s. Inget har sparats.", size=format_size(limit)
            )
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
            back=same_site_referrer(),
        ), 409

    @app.errorhandler(500)
    def server_error(error: Any) -> tuple[str, int]:
        db.session.rollback()
        return render_error(500, _("Något gick fel"), _("Ett oväntat fel inträffade."))
