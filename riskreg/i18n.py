"""Translation helpers.

``N_`` marks a Swedish source string for extraction (Babel's default keywords include it) but
returns it unchanged. Use it for module-level constants that are also used outside the web UI –
in PDF reports, e-mail digests or as stored values – and translate them where they are
displayed, with ``gettext``/``lazy_gettext`` or ``_()`` in a template.

``gettext_now`` (imported as ``_`` in services) translates a message for the reader when it
is made: every ``ServiceError`` is raised with it, so the English UI shows English refusals.
Outside an application (scripts, some tests) the Swedish source is returned.
"""

from __future__ import annotations


def N_(message: str) -> str:
    return message


def gettext_now(message: str, **values: object) -> str:
    """A message for the reader: Swedish source, English from the catalogue in the app."""
    # Flask is imported here, not at the top: framework-free modules (riskreg.tabular,
    # riskreg.cellvalues) translate their messages with this too.
    from flask import has_app_context

    if has_app_context():
        from flask_babel import gettext

        return gettext(message, **values)
    return message % values if values else message
