"""Digest grouping, rendering (sv/en, text/HTML) and the e-mail message."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest

from riskreg.reminders.decide import DueReminder, Recipient, ReminderItem
from riskreg.reminders.digest import (
    Digest,
    build_message,
    build_messages,
    group_digests,
    item_url,
    normalize_locale,
    render_digest,
)

D = dt.date.fromisoformat
STHLM = ZoneInfo("Europe/Stockholm")
BASE = "https://riskreg.region.se"
NOW = dt.datetime(2025, 10, 9, 7, 0, tzinfo=STHLM)  # Thursday
TODAY = D("2025-10-09")

MAILBOX = Recipient("ce@region.se", "CE funktionsbrevlåda", "sv", None, 10)
ANNA = Recipient("anna@region.se", "Anna Åström", "en", 1, 10)
BOSS = Recipient("chef@region.se", "Örjan Chef", "sv", 2, 10)


def item(item_id: int, due: str, *, kind: str = "action", title: str | None = None) -> ReminderItem:
    return ReminderItem(
        kind=kind,  # type: ignore[arg-type]
        item_id=item_id,
        title=title or f"Åtgärd nr {item_id}: rätta avtalsregistret",
        owner_unit_id=10,
        owner_unit_code="CE",
        due_date=D(due),
        done=False,
        url_path=f"/{kind}s/{item_id}",
    )


def reminder(it: ReminderItem, reason: str, detail: int, to: Recipient) -> DueReminder:
    return DueReminder(it, reason, detail, to, it.due_date, it.due_date)  # type: ignore[arg-type]


def parse(message: EmailMessage) -> EmailMessage:
    """Round-trip through bytes, as the receiving server sees it."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(message: EmailMessage) -> tuple[str, str]:
    parsed = parse(message)
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()  # type: ignore[union-attr]


# --- locale and grouping ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sv", "sv"),
        ("sv_SE", "sv"),
        ("en", "en"),
        ("en_GB", "en"),
        ("EN-us", "en"),
        ("de", "sv"),
        ("", "sv"),
        (None, "sv"),
        ("eng", "sv"),
    ],
)
def test_normalize_locale(value: str | None, expected: str) -> None:
    assert normalize_locale(value) == expected


def test_one_digest_per_address_with_entries_sorted_by_due_date() -> None:
    late, soon, later = item(1, "2025-09-01"), item(2, "2025-10-12"), item(3, "2025-10-23")
    reminders = [
        reminder(later, "before", 14, MAILBOX),
        reminder(soon, "before", 3, MAILBOX),
        reminder(late, "overdue", 35, MAILBOX),
        reminder(soon, "before", 3, ANNA),
        reminder(late, "escalation", 14, BOSS),
    ]
    digests = group_digests(reminders)
    assert [d.recipient.address for d in digests] == [
        "anna@region.se",
        "ce@region.se",
        "chef@region.se",
    ]
    mailbox = digests[1]
    assert [e.item.item_id for e in mailbox.entries] == [1, 2, 3]
    assert mailbox.dedup_keys == (
        "action:1|overdue:35|2025-09-01|ce@region.se",
        "action:2|before:3|2025-10-12|ce@region.se",
        "action:3|before:14|2025-10-23|ce@region.se",
    )


def test_same_item_twice_for_one_address_is_one_entry_with_both_keys() -> None:
    late = item(1, "2025-09-25")
    [digest] = group_digests(
        [reminder(late, "overdue", 14, BOSS), reminder(late, "escalation", 14, BOSS)]
    )
    assert len(digest.entries) == 1
    assert digest.entries[0].escalated
    assert set(digest.dedup_keys) == {
        "action:1|overdue:14|2025-09-25|chef@region.se",
        "action:1|escalation:14|2025-09-25|chef@region.se",
    }


def test_address_case_variants_share_a_digest_and_the_user_entry_wins() -> None:
    as_mailbox = Recipient("Anna@Region.se", "Anna", "sv", None, 11)
    [digest] = group_digests(
        [
            reminder(item(1, "2025-10-12"), "before", 3, as_mailbox),
            reminder(item(2, "2025-10-12"), "before", 3, ANNA),
        ]
    )
    assert digest.recipient == ANNA
    assert digest.locale == "en"


# --- rendering ----------------------------------------------------------------------------


def test_swedish_digest_texts() -> None:
    [digest] = group_digests(
        [
            reminder(item(1, "2025-09-25"), "overdue", 14, MAILBOX),
            reminder(item(2, "2025-10-08"), "due", 0, MAILBOX),
            reminder(item(3, "2025-10-09", kind="control", title="Passerkort"), "due", 0, MAILBOX),
            reminder(item(4, "2025-10-10"), "before", 3, MAILBOX),
            reminder(item(5, "2025-10-23"), "before", 14, MAILBOX),
        ]
    )
    out = render_digest(digest, base_url=BASE, today=TODAY)
    assert out.locale == "sv"
    assert out.subject == "riskreg: påminnelse om 5 ärenden (2 försenade)"
    assert out.text.startswith("Hej CE funktionsbrevlåda!\n\nFöljande granskningar och åtgärder")
    assert "* [FÖRSENAD] Åtgärd: Åtgärd nr 1: rätta avtalsregistret\n" in out.text
    assert "  Ansvarig enhet: CE\n" in out.text
    assert "  Sista dag var 2025-09-25, 14 dagar sedan\n" in out.text
    assert "  Sista dag var 2025-10-08, 1 dag sedan\n" in out.text
    assert "* Granskning: Passerkort\n  Ansvarig enhet: CE\n  Sista dag i dag, 2025-10-09\n" in (
        out.text
    )
    assert "  Sista dag 2025-10-10, i morgon\n" in out.text
    assert "  Sista dag 2025-10-23, om 14 dagar\n" in out.text
    assert "  Öppna i riskreg: https://riskreg.region.se/actions/1\n" in out.text
    assert "  Öppna i riskreg: https://riskreg.region.se/controls/3\n" in out.text
    # Order: by due date.
    positions = [out.text.index(f"/actions/{i}") for i in (1, 2, 4, 5)]
    assert positions == sorted(positions)
    assert out.html.count('<strong style="color: #b02a37;">FÖRSENAD</strong>') == 2
    assert '<a href="https://riskreg.region.se/actions/5">' in out.html
    assert '<html lang="sv">' in out.html


def test_english_digest_texts() -> None:
    [digest] = group_digests(
        [
            reminder(item(1, "2025-10-02"), "overdue", 7, ANNA),
            reminder(item(2, "2025-10-12"), "before", 3, ANNA),
        ]
    )
    out = render_digest(digest, base_url=BASE, today=TODAY)
    assert out.subject == "riskreg: reminder about 2 items (1 overdue)"
    assert out.text.startswith("Hello Anna Åström,\n\nThe following reviews and actions")
    assert "* [OVERDUE] Action: Åtgärd nr 1" in out.text
    assert "  Was due 2025-10-02, 7 days ago\n" in out.text
    assert "  Due 2025-10-12, in 3 days\n" in out.text
    assert "  Open in riskreg: https://riskreg.region.se/actions/2\n" in out.text
    assert "please do not reply" in out.text
    assert '<html lang="en">' in out.html


def test_singular_subjects() -> None:
    [digest] = group_digests([reminder(item(1, "2025-10-02"), "overdue", 7, MAILBOX)])
    assert render_digest(digest, base_url=BASE, today=TODAY).subject == (
        "riskreg: påminnelse om 1 ärende (1 försenat)"
    )
    [digest] = group_digests([reminder(item(1, "2025-10-12"), "before", 3, ANNA)])
    assert render_digest(digest, base_url=BASE, today=TODAY).subject == (
        "riskreg: reminder about 1 item"
    )


def test_escalation_digest() -> None:
    [digest] = group_digests([reminder(item(1, "2025-09-25"), "escalation", 14, BOSS)])
    out = render_digest(digest, base_url=BASE, today=TODAY)
    assert out.subject == "[Eskalering] riskreg: påminnelse om 1 ärende (1 försenat)"
    assert "  Eskalerad till dig som chef för CE.\n" in out.text
    assert "<em>Eskalerad till dig som chef för CE.</em>" in out.html


def test_text_says_overdue_when_a_before_reminder_arrives_after_the_due_date() -> None:
    # A "3 before" moved past a long holiday can arrive after the due date; the text is true.
    [digest] = group_digests([reminder(item(1, "2025-12-27"), "before", 3, MAILBOX)])
    out = render_digest(digest, base_url=BASE, today=D("2025-12-29"))
    assert "[FÖRSENAD]" in out.text
    assert "Sista dag var 2025-12-27, 2 dagar sedan" in out.text


def test_html_escapes_titles_and_names() -> None:
    nasty = item(1, "2025-10-12", title='<script>alert("x")</script> & <b>fet</b>')
    who = Recipient("x@region.se", "<img src=x onerror=alert(1)>", "sv", 3, 10)
    [digest] = group_digests([reminder(nasty, "before", 3, who)])
    out = render_digest(digest, base_url=BASE, today=TODAY)
    assert "<script>" not in out.html
    assert "<img" not in out.html
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;fet&lt;/b&gt;" in out.html
    )
    assert "&lt;img src=x onerror=alert(1)&gt;" in out.html
    # Plain text is not HTML: it keeps the title as typed.
    assert '<script>alert("x")</script> & <b>fet</b>' in out.text


def test_links_are_absolute_and_respect_a_path_prefix() -> None:
    it = item(7, "2025-10-12")
    assert item_url("https://region.se/riskreg/", it) == "https://region.se/riskreg/actions/7"
    assert item_url("https://region.se/riskreg", it) == "https://region.se/riskreg/actions/7"
    assert item_url("http://localhost:5000", it) == "http://localhost:5000/actions/7"
    odd = ReminderItem("action", 8, "x", 10, "CE", D("2025-10-12"), False, "/actions/8?tab=a&b=ö")
    assert item_url(BASE, odd) == "https://riskreg.region.se/actions/8?tab=a&b=%C3%B6"
    [digest] = group_digests([reminder(odd, "before", 3, MAILBOX)])
    html = render_digest(digest, base_url=BASE, today=TODAY).html
    assert 'href="https://riskreg.region.se/actions/8?tab=a&amp;b=%C3%B6"' in html


@pytest.mark.parametrize(
    "base",
    [
        "riskreg.region.se",
        "/riskreg",
        "ftp://region.se",
        "https://",
        "https://x.se/?a=1",
        "https://x.se/#top",
        "javascript:alert(1)",
    ],
)
def test_bad_base_urls_are_rejected(base: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        item_url(base, item(1, "2025-10-12"))


def test_greeting_without_a_name() -> None:
    anon = Recipient("x@region.se", "  ", "sv", None, 10)
    [digest] = group_digests([reminder(item(1, "2025-10-12"), "before", 3, anon)])
    assert render_digest(digest, base_url=BASE, today=TODAY).text.startswith("Hej!\n")


# --- the e-mail message ---------------------------------------------------------------------


def _digest(to: Recipient = MAILBOX) -> Digest:
    [digest] = group_digests(
        [
            reminder(item(1, "2025-09-25"), "overdue", 14, to),
            reminder(item(2, "2025-10-12"), "before", 3, to),
        ]
    )
    return digest


def test_message_structure_and_headers() -> None:
    msg = build_message(_digest(), base_url=BASE, sender="riskreg <noreply@region.se>", now=NOW)
    parsed = parse(msg)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert parsed["Subject"] == "riskreg: påminnelse om 2 ärenden (1 försenat)"
    assert parsed["From"].addresses[0].addr_spec == "noreply@region.se"
    assert parsed["From"].addresses[0].display_name == "riskreg"
    to = parsed["To"].addresses
    assert [(a.display_name, a.addr_spec) for a in to] == [("CE funktionsbrevlåda", "ce@region.se")]
    assert parsedate_to_datetime(parsed["Date"]) == NOW
    assert parsed["Date"].endswith("+0200")  # Stockholm summer time on 2025-10-09
    assert parsed["Message-ID"].startswith("<") and parsed["Message-ID"].endswith("@region.se>")
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Content-Language"] == "sv"


def test_message_is_seven_bit_clean_and_keeps_aao() -> None:
    msg = build_message(_digest(), base_url=BASE, sender="noreply@region.se", now=NOW)
    raw = msg.as_bytes()
    assert max(raw) < 128  # safe for any relay, with or without 8BITMIME
    text, html = bodies(msg)
    assert "Åtgärd nr 1: rätta avtalsregistret" in text
    assert "Öppna i riskreg: https://riskreg.region.se/actions/1" in text
    assert "Åtgärd nr 1: rätta avtalsregistret" in html


def test_message_ids_are_unique() -> None:
    ids = {
        build_message(_digest(), base_url=BASE, sender="n@region.se", now=NOW)["Message-ID"]
        for _ in range(50)
    }
    assert len(ids) == 50


def test_sender_as_tuple_and_header_injection_in_names() -> None:
    evil = Recipient("anna@region.se", "Anna\r\nBcc: everyone@region.se", "sv", 1, 10)
    msg = build_message(
        _digest(evil), base_url=BASE, sender=("Riskreg Västmanland", "noreply@region.se"), now=NOW
    )
    parsed = parse(msg)
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["anna@region.se"]
    assert parsed["From"].addresses[0].display_name == "Riskreg Västmanland"


@pytest.mark.parametrize("sender", ["", "   ", "not an address", "a@x.se, b@x.se"])
def test_bad_senders_are_rejected(sender: str) -> None:
    with pytest.raises(ValueError):
        build_message(_digest(), base_url=BASE, sender=sender, now=NOW)


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_message(
            _digest(), base_url=BASE, sender="n@region.se", now=dt.datetime(2025, 10, 9, 7, 0)
        )


def test_build_messages_pairs_digests_and_messages() -> None:
    reminders = [
        reminder(item(1, "2025-10-12"), "before", 3, MAILBOX),
        reminder(item(1, "2025-10-12"), "before", 3, ANNA),
    ]
    outgoing = build_messages(reminders, base_url=BASE, sender="n@region.se", now=NOW)
    assert [o.digest.recipient.address for o in outgoing] == ["anna@region.se", "ce@region.se"]
    for out in outgoing:
        assert out.message["To"].addresses[0].addr_spec == out.digest.recipient.address
    assert outgoing[0].message["Subject"] == "riskreg: reminder about 1 item"
    assert outgoing[1].message["Subject"] == "riskreg: påminnelse om 1 ärende"
