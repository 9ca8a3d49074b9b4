"""Reminder routes: Mitt arbete and notifications for everyone signed in, the policy for
admins, the send log for admins and auditors."""

from __future__ import annotations

from tests.permission_matrix.roles import ADMIN, ALL, Matrix

EXPECTED: Matrix = {
    "reminders.notifications": ("GET", lambda i: "/reminders/notifications", ALL),
    # Without form data: nothing is marked, the user is sent back to the list (302).
    "reminders.mark_read": ("POST", lambda i: "/reminders/notifications/read", ALL),
    "reminders.policy": ("GET", lambda i: "/reminders/policy", ADMIN),
    "reminders.log": ("GET", lambda i: "/reminders/log", {"admin", "auditor"}),
}
