"""One glossary: the words riskreg uses for its objects and their states, everywhere.

Issue 14: the menu said "Granskningar", the control page "Kontroll" and the PDF "Kontrolltyp"
for the same things, and an action's states differed between the app, the follow-up and the
PDF. Every place that names an object type, a check type's heading or a state takes the word
from here: the menu and page titles, the control and action pages, the follow-up page and its
PDF and XLSX, the review report, the e-mail digests and the audit trail. docs/glossary.md
lists the words with their English translations and says why they were chosen.

The words are Swedish source strings marked with ``N_``: the web UI translates them with
``_()``; the signed PDFs are written in Swedish and use them as they are. Keys are the stored
values (``control.status`` etc.), so this module imports no model and every model may use it.
"""

from __future__ import annotations

from riskreg.i18n import N_

#: Object types. A control of the plan (kontrollmoment) is a "granskning" everywhere: the menu
#: "Granskningar", its page, the reports and the audit trail; "kontroll" is not used for it.
OBJECT_TYPES: dict[str, str] = {
    "plan": N_("Internkontrollplan"),
    "risk": N_("Risk"),
    "control": N_("Granskning"),
    "deviation": N_("Avvikelse"),
    "action": N_("Åtgärd"),
    "report": N_("Rapport"),
    "followup": N_("Uppföljning"),
}

#: Plural forms of the object types, for menus and headings.
OBJECT_TYPES_PLURAL: dict[str, str] = {
    "plan": N_("Internkontrollplaner"),
    "risk": N_("Risker"),
    "control": N_("Granskningar"),
    "deviation": N_("Avvikelser"),
    "action": N_("Åtgärder"),
    "report": N_("Rapporter"),
    "followup": N_("Uppföljningar"),
}

#: The heading of a control's check type (payments, passcards, hygiene ...): "Granskningstyp",
#: never "Kontrolltyp", on the page and in the PDF.
CHECK_TYPE = N_("Granskningstyp")

#: States of a control. "Klar för granskning" says whose turn it is: the approver's.
CONTROL_STATES: dict[str, str] = {
    "planned": N_("Planerad"),
    "in_progress": N_("Pågår"),
    "ready_for_review": N_("Klar för granskning – väntar på godkännare"),
    "approved": N_("Godkänd"),
}

#: States of an action: the owner unit answers, the controller verifies. The same three words
#: in the app, on the follow-up page, in its PDF and XLSX, and in the audit trail.
ACTION_STATES: dict[str, str] = {
    "open": N_("Öppen"),
    "answered": N_("Besvarad"),
    "verified": N_("Verifierad"),
}

#: States of a signed report. The approver's second signature is a "medsignatur" (verb
#: "medsignera") everywhere; "kontrasignera" is not used.
REPORT_STATES: dict[str, str] = {
    "certified": N_("Signerad av granskaren, väntar på medsignatur"),
    "signed": N_("Signerad och medsignerad"),
}

#: States of a plan.
PLAN_STATES: dict[str, str] = {
    "draft": N_("Utkast"),
    "adopted": N_("Fastställd"),
}


def plural_sv(n: int, singular: str, plural: str) -> str:
    """Swedish plural for text that is always Swedish (the signed PDFs): "1 gul", "7 röda".

    The web UI uses ``ngettext`` instead, so English readers get English forms; a signed PDF
    must read the same whoever made it, so it does not follow the maker's language.
    """
    return f"{n} {singular if n == 1 else plural}"
