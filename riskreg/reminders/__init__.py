"""Deadline reminders: what is due (pure), digest e-mails, and an SMTP sender.

The Flask/DB layer loads items, recipients and the send log, then::

    reminders = due_reminders(items, policy, now, recipients_for_unit, manager_for_unit, sent)
    outgoing = build_messages(reminders, base_url=..., sender=..., now=now)
    result = send_digests([o.message for o in outgoing], app.config)
    for out, res in zip(outgoing, result.results, strict=True):
        if res.ok:
            log(out.digest.dedup_keys, ...)  # only what the server accepted
"""

from riskreg.reminders.decide import (
    DueReminder,
    Recipient,
    ReminderItem,
    due_reminders,
    local_date,
)
from riskreg.reminders.digest import (
    Digest,
    DigestEntry,
    OutgoingDigest,
    build_message,
    build_messages,
    group_digests,
    render_digest,
)
from riskreg.reminders.policy import ReminderPolicy, is_working_day, next_working_day
from riskreg.reminders.smtp import MessageResult, SendResult, send_digests

__all__ = [
    "Digest",
    "DigestEntry",
    "DueReminder",
    "MessageResult",
    "OutgoingDigest",
    "Recipient",
    "ReminderItem",
    "ReminderPolicy",
    "SendResult",
    "build_message",
    "build_messages",
    "due_reminders",
    "group_digests",
    "is_working_day",
    "local_date",
    "next_working_day",
    "render_digest",
    "send_digests",
]
