"""Digest e-mails: one message per recipient per run, in Swedish or English.

Why digests: a unit with twenty open actions must get one e-mail listing them, not twenty. Why
here and not in Flask templates: the sender runs from cron outside any request, and the texts
must be testable without an app. The strings live in this module (two languages, a dozen
phrases); the web UI's Babel catalogues are not needed for that.

Texts describe the item's state *on the day the digest is sent* (due in 3 days / today /
overdue 2 days), computed from the dates, not from the reminder's reason. That keeps the text
true when a reminder was moved past a holiday or caught up after a missed run: a "3 days
before" reminder moved from Julafton to the Monday after a Saturday due date says "overdue".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from email.utils import quote as quote_header
from typing import Literal
from urllib.parse import quote, urlsplit

from jinja2 import Environment, StrictUndefined

from riskreg.reminders.decide import (
    STOCKHOLM,
    DueReminder,
    Recipient,
    ReminderItem,
    local_date,
)

__all__ = [
    "Digest",
    "DigestEntry",
    "Locale",
    "OutgoingDigest",
    "RenderedDigest",
    "build_message",
    "build_messages",
    "check_settings",
    "digest_subject",
    "group_digests",
    "item_url",
    "normalize_locale",
    "render_digest",
]

Locale = Literal["sv", "en"]


def normalize_locale(value: str | None) -> Locale:
    """ "en", "en_GB", "en-US" -> "en"; everything else (including None) -> "sv".

    Swedish is the default because riskreg serves Swedish regions; English is opt-in per user.
    """
    if value and re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0] == "en":
        return "en"
    return "sv"


@dataclass(frozen=True)
class DigestEntry:
    """One item in a digest with every reminder about it for this recipient.

    Usually one reminder; two when a manager is also a member of the unit and gets the unit's
    overdue reminder and the escalation in the same run. The item is shown once, and both keys
    are logged as sent.
    """

    item: ReminderItem
    reminders: tuple[DueReminder, ...]

    @property
    def escalated(self) -> bool:
        return any(r.reason == "escalation" for r in self.reminders)

    @property
    def assigned(self) -> bool:
        """The unit is told that the action is new (riskreg.reminders.decide, "assigned")."""
        return any(r.reason == "assigned" for r in self.reminders)


@dataclass(frozen=True)
class Digest:
    """Everything one address gets in one run, entries sorted by due date."""

    recipient: Recipient
    entries: tuple[DigestEntry, ...]

    @property
    def reminders(self) -> tuple[DueReminder, ...]:
        return tuple(r for entry in self.entries for r in entry.reminders)

    @property
    def dedup_keys(self) -> tuple[str, ...]:
        """Keys to log as sent once (and only if) this digest was accepted by the server."""
        return tuple(r.dedup_key for r in self.reminders)

    @property
    def locale(self) -> Locale:
        return normalize_locale(self.recipient.locale)


def _pick_recipient(recipients: Iterable[Recipient]) -> Recipient:
    """The entry that best describes an address that appears in several roles.

    A user entry (with the user's language and name) beats a functional-mailbox entry.
    """
    chosen: Recipient | None = None
    for recipient in recipients:
        if chosen is None or (chosen.user_id is None and recipient.user_id is not None):
            chosen = recipient
    assert chosen is not None
    return chosen


def group_digests(reminders: Iterable[DueReminder]) -> list[Digest]:
    """Group reminders into one :class:`Digest` per (normalised) recipient address.

    Entries are sorted by due date (the most urgent first), then kind and id for stability;
    digests are sorted by address.
    """
    by_address: dict[str, list[DueReminder]] = {}
    for reminder in reminders:
        by_address.setdefault(reminder.recipient.key_address, []).append(reminder)

    digests: list[Digest] = []
    for address in sorted(by_address):
        group = by_address[address]
        by_item: dict[tuple[str, int], list[DueReminder]] = {}
        for reminder in group:
            by_item.setdefault((reminder.item.kind, reminder.item.item_id), []).append(reminder)
        entries = [DigestEntry(item=rs[0].item, reminders=tuple(rs)) for rs in by_item.values()]
        entries.sort(key=lambda e: (e.item.due_date, e.item.kind, e.item.item_id))
        digests.append(
            Digest(
                recipient=_pick_recipient(r.recipient for r in group),
                entries=tuple(entries),
            )
        )
    return digests


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"base_url must not have a query or fragment: {base_url!r}")
    return base_url.rstrip("/")


def item_url(base_url: str, item: ReminderItem) -> str:
    """Absolute link to the item's page.

    Joined by concatenation, not ``urljoin``: ``urljoin("https://x/riskreg", "/actions/1")``
    would drop the ``/riskreg`` prefix of an installation behind a path-based proxy.
    """
    return _check_base_url(base_url) + quote(item.url_path, safe="/-._~%?=&#")


# --- texts ----------------------------------------------------------------------------------

_TEXTS: Mapping[Locale, Mapping[str, str]] = {
    "sv": {
        "greeting": "Hej {name}!",
        "greeting_anon": "Hej!",
        "intro": "Följande granskningar och åtgärder i riskreg behöver din uppmärksamhet:",
        "control": "Granskning",
        "action": "Åtgärd",
        "unit": "Ansvarig enhet",
        "due_in_days": "Sista dag {date}, om {n} dagar",
        "due_tomorrow": "Sista dag {date}, i morgon",
        "due_today": "Sista dag i dag, {date}",
        "overdue_flag": "FÖRSENAD",
        "overdue_days": "Sista dag var {date}, {n} dagar sedan",
        "overdue_day": "Sista dag var {date}, 1 dag sedan",
        "escalated": "Eskalerad till dig som chef för {unit}.",
        "assigned": "Ny åtgärd: den har just tilldelats {unit}.",
        "open": "Öppna i riskreg",
        "footer": (
            "Markera ärendet som klart i riskreg när det är utfört, så upphör påminnelserna. "
            "Meddelandet skickades automatiskt av riskreg; svara inte på det."
        ),
        "subject_one": "riskreg: påminnelse om 1 ärende",
        "subject_many": "riskreg: påminnelse om {n} ärenden",
        "subject_overdue_one": " (1 försenat)",
        "subject_overdue_many": " ({n} försenade)",
        "subject_escalation": "[Eskalering] ",
    },
    "en": {
        "greeting": "Hello {name},",
        "greeting_anon": "Hello,",
        "intro": "The following reviews and actions in riskreg need your attention:",
        "control": "Review",
        "action": "Action",
        "unit": "Responsible unit",
        "due_in_days": "Due {date}, in {n} days",
        "due_tomorrow": "Due {date}, tomorrow",
        "due_today": "Due today, {date}",
        "overdue_flag": "OVERDUE",
        "overdue_days": "Was due {date}, {n} days ago",
        "overdue_day": "Was due {date}, 1 day ago",
        "escalated": "Escalated to you as the manager of {unit}.",
        "assigned": "New action: it has just been assigned to {unit}.",
        "open": "Open in riskreg",
        "footer": (
            "Mark the item as done in riskreg when it is finished and the reminders stop. "
            "This message was sent automatically by riskreg; please do not reply."
        ),
        "subject_one": "riskreg: reminder about 1 item",
        "subject_many": "riskreg: reminder about {n} items",
        "subject_overdue_one": " (1 overdue)",
        "subject_overdue_many": " ({n} overdue)",
        "subject_escalation": "[Escalation] ",
    },
}


@dataclass(frozen=True)
class _EntryView:
    """Plain strings for one entry, shared by the text and the HTML rendering."""

    kind_label: str
    title: str
    unit_code: str
    overdue: bool
    status: str
    escalation_note: str | None
    url: str


def _entry_view(
    entry: DigestEntry, texts: Mapping[str, str], base_url: str, today: dt.date
) -> _EntryView:
    item = entry.item
    date = item.due_date.isoformat()
    days_left = (item.due_date - today).days
    if days_left > 1:
        status = texts["due_in_days"].format(date=date, n=days_left)
    elif days_left == 1:
        status = texts["due_tomorrow"].format(date=date)
    elif days_left == 0:
        status = texts["due_today"].format(date=date)
    elif days_left == -1:
        status = texts["overdue_day"].format(date=date)
    else:
        status = texts["overdue_days"].format(date=date, n=-days_left)
    return _EntryView(
        kind_label=texts[item.kind],
        title=item.title,
        unit_code=item.owner_unit_code,
        overdue=days_left < 0,
        status=status,
        escalation_note=(
            texts["escalated"].format(unit=item.owner_unit_code)
            if entry.escalated
            else texts["assigned"].format(unit=item.owner_unit_code)
            if entry.assigned
            else None
        ),
        url=item_url(base_url, item),
    )


_HTML_TEMPLATE = """\
<!DOCTYPE html>
<html lang="{{ lang }}">
<head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: Arial, Helvetica, sans-serif; font-size: 15px; color: #212529;">
<p>{{ greeting }}</p>
<p>{{ intro }}</p>
<ul style="padding-left: 1.2em;">
{%- for e in entries %}
<li style="margin-bottom: 0.8em;">
{%- if e.overdue %}<strong style="color: #b02a37;">{{ overdue_flag }}</strong> {% endif -%}
<strong>{{ e.kind_label }}: <a href="{{ e.url }}">{{ e.title }}</a></strong><br>
{{ unit_label }}: {{ e.unit_code }}<br>
{{ e.status }}
{%- if e.escalation_note %}<br><em>{{ e.escalation_note }}</em>{% endif %}
</li>
{%- endfor %}
</ul>
<p style="color: #6c757d; font-size: 13px;">{{ footer }}</p>
</body>
</html>
"""

# Autoescape on: titles are user input, and an HTML e-mail is a web page in the reader's mail
# client. StrictUndefined: a typo in the template fails the tests instead of rendering "".
_JINJA = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
_HTML = _JINJA.from_string(_HTML_TEMPLATE)


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str
    locale: Locale


def _subject(digest: Digest, texts: Mapping[str, str], today: dt.date) -> str:
    n = len(digest.entries)
    overdue = sum(1 for e in digest.entries if e.item.due_date < today)
    subject = texts["subject_one"] if n == 1 else texts["subject_many"].format(n=n)
    if overdue == 1:
        subject += texts["subject_overdue_one"]
    elif overdue > 1:
        subject += texts["subject_overdue_many"].format(n=overdue)
    if any(e.escalated for e in digest.entries):
        subject = texts["subject_escalation"] + subject
    return subject


def digest_subject(digest: Digest, now: dt.datetime) -> str:
    """The subject line alone, as :func:`build_message` writes it (what a dry run reports)."""
    return _subject(digest, _TEXTS[digest.locale], local_date(now))


def render_digest(digest: Digest, *, base_url: str, today: dt.date) -> RenderedDigest:
    """Subject, plain text and HTML of a digest as of ``today`` (the Stockholm date of the run).

    Plain text is the part some clients and every screen reader setting "plain text only"
    shows, so it carries the same information as the HTML, links included.
    """
    locale = digest.locale
    texts = _TEXTS[locale]
    views = [_entry_view(e, texts, base_url, today) for e in digest.entries]
    name = " ".join(digest.recipient.name.split())
    greeting = texts["greeting"].format(name=name) if name else texts["greeting_anon"]
    subject = _subject(digest, texts, today)

    lines = [greeting, "", texts["intro"], ""]
    for view in views:
        flag = f"[{texts['overdue_flag']}] " if view.overdue else ""
        lines.append(f"* {flag}{view.kind_label}: {view.title}")
        lines.append(f"  {texts['unit']}: {view.unit_code}")
        lines.append(f"  {view.status}")
        if view.escalation_note:
            lines.append(f"  {view.escalation_note}")
        lines.append(f"  {texts['open']}: {view.url}")
        lines.append("")
    lines.append("-- ")
    lines.append(texts["footer"])
    text = "\n".join(lines) + "\n"

    html = _HTML.render(
        lang=locale,
        subject=subject,
        greeting=greeting,
        intro=texts["intro"],
        entries=views,
        overdue_flag=texts["overdue_flag"],
        unit_label=texts["unit"],
        footer=texts["footer"],
    )
    return RenderedDigest(subject=subject, text=text, html=html, locale=locale)


def _clean_display_name(name: str) -> str:
    """Collapse whitespace (incl. CR/LF) so a stored name can never inject header lines."""
    return " ".join(name.split())


def _sender_header(sender: str | tuple[str, str]) -> Address:
    """Parse ``MAIL_DEFAULT_SENDER`` in either Flask-Mail form: "Name <a@b>" or (name, addr)."""
    if isinstance(sender, tuple):
        name, addr = sender
        return Address(display_name=_clean_display_name(name), addr_spec=addr.strip())
    if not isinstance(sender, str) or not sender.strip():
        raise ValueError("a sender address is required (MAIL_DEFAULT_SENDER is not set)")
    probe = EmailMessage()
    probe["From"] = sender
    addresses = probe["From"].addresses
    if len(addresses) != 1 or not addresses[0].domain:
        raise ValueError(f"sender must be one e-mail address, got {sender!r}")
    return addresses[0]


def _recipient_header(recipient: Recipient) -> Address | str:
    """The To header value.

    ``Address`` refuses a non-ASCII local part (``åsa@region.se``), which SMTPUTF8 servers
    accept. For those a formatted string is used instead: smtplib then sends the message with
    SMTPUTF8, or reports it as not sendable if the server lacks that extension, instead of
    this function failing the whole run.
    """
    name = _clean_display_name(recipient.name)
    addr = recipient.address.strip()
    local_part = addr.rpartition("@")[0]
    if local_part.isascii():
        return Address(display_name=name, addr_spec=addr)
    # formataddr() insists on an ASCII address; quote the display name ourselves.
    return f'"{quote_header(name)}" <{addr}>' if name else f"<{addr}>"


def build_message(
    digest: Digest,
    *,
    base_url: str,
    sender: str | tuple[str, str] | Address,
    now: dt.datetime,
) -> EmailMessage:
    """A ready-to-send multipart/alternative message (text first, HTML preferred by clients).

    Headers: ``Date`` is ``now`` in Stockholm time; ``Message-ID`` uses the sender's domain (no
    DNS lookup, unlike ``make_msgid()``'s default); ``Auto-Submitted`` (RFC 3834) and
    ``X-Auto-Response-Suppress`` keep out-of-office replies from flooding the sender.
    Bodies are quoted-printable so the message is 7-bit clean for any relay; åäö survive.
    """
    today = local_date(now)
    rendered = render_digest(digest, base_url=base_url, today=today)
    from_address = sender if isinstance(sender, Address) else _sender_header(sender)
    to_address = _recipient_header(digest.recipient)

    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = from_address
    message["To"] = to_address
    message["Date"] = format_datetime(now.astimezone(STOCKHOLM))
    # No idstring: it would push the header past 78 characters and get it folded.
    message["Message-ID"] = make_msgid(domain=from_address.domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    # After the bodies: set_content() drops Content-* headers set before it.
    message["Content-Language"] = rendered.locale
    return message


@dataclass(frozen=True)
class OutgoingDigest:
    """A digest and its message; after sending, log ``digest.dedup_keys`` if it was accepted."""

    digest: Digest
    message: EmailMessage


def build_messages(
    reminders: Iterable[DueReminder],
    *,
    base_url: str,
    sender: str | tuple[str, str],
    now: dt.datetime,
) -> list[OutgoingDigest]:
    """Group reminders into digests and build one message per digest (in address order)."""
    from_address = _sender_header(sender)  # parsed once, not once per message
    return [
        OutgoingDigest(
            digest, build_message(digest, base_url=base_url, sender=from_address, now=now)
        )
        for digest in group_digests(reminders)
    ]


def check_settings(sender: str | tuple[str, str], base_url: str) -> None:
    """Raise ValueError for settings no message could be built with, as
    :func:`build_messages` would (a dry run checks them without building the messages)."""
    _sender_header(sender)
    _check_base_url(base_url)
