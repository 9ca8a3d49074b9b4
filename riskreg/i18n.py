"""Translation helpers that need no Flask.

``N_`` marks a Swedish source string for extraction (Babel's default keywords include it) but
returns it unchanged. Use it for module-level constants that are also used outside the web UI –
in PDF reports, e-mail digests, service error messages or as stored values – and translate them
where they are displayed, with ``gettext``/``lazy_gettext`` or ``_()`` in a template.
"""

from __future__ import annotations


def N_(message: str) -> str:
    return message
