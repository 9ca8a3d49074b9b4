"""Reminders in the app: the policy row, notifications, the send log, and one reminder run
(``riskreg reminders send``). "Mitt arbete" and the dashboard counts are in
:mod:`riskreg.dashboard.work`.

Plain functions taking the session and ``now``. All of them flush and never commit, except
:func:`run_reminders`, which is several transactions by design (see below).

One run and why it is safe to start twice
-----------------------------------------
The database is the arbiter. ``reminder_log.dedup_key`` is UNIQUE, and a run proceeds so:

1. **Decide** (read only): load the open items, the unit recipients and the policy; compute
   the candidates with the pure :func:`~riskreg.reminders.decide.due_reminders`; drop those whose
   key is already in the log as ``sent`` or as a live claim (that is ``already_sent``).
2. **Claim** (one short committed transaction): insert one log row per reminder in state
   ``claimed`` with ``INSERT ... ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key``. A key
   that another run inserted first, even one that has not committed yet, is not returned: on
   PostgreSQL the insert waits for the other transaction and then does nothing; on SQLite the
   writers are serialised (busy timeout). Rows left ``failed`` by an earlier run, and claims
   older than the claim timeout (a crashed run), are taken over with a conditional
   ``UPDATE ... WHERE state = 'failed' OR (state = 'claimed' AND claimed_at < cutoff)``, which
   also lets only one run win. Keys are processed in sorted order so two runs lock them in the
   same order (no deadlock).
3. **Send** what this run claimed (no database transaction is open meanwhile): one digest per
   recipient through :func:`~riskreg.reminders.smtp.send_digests`.
4. **Record** (second transaction): rows of accepted digests become ``sent`` (with the time, code
   250 and the Message-ID) and the users among the recipients get notifications; rows of refused
   or unsent digests become ``failed`` with the server's code and text, so nothing is marked as
   sent and the next run claims and sends them again. One audit entry sums up the run.

If the run is interrupted between 2 and 4 (an exception, Ctrl+C), its claims are released
(``failed``) before the exception propagates. If the process dies outright (kill -9, power), its
claims stay ``claimed`` and block those reminders until the claim timeout
(``REMINDER_CLAIM_TIMEOUT_MINUTES``, default 60) has passed; then the next run sends them. A
digest the server had accepted just before such a crash is then sent a second time: for a
reminder, a rare duplicate after a crash is better than a lost one. The timeout must be longer
than the longest run (a run over 10,000 items takes seconds; see BENCHMARKS.md).

Two runs that overlap may each send a part of one recipient's reminders (each its own claimed
keys), so a recipient can get two digests in that case, but never the same reminder twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from riskreg.audit.trail import record
from riskreg.errors import ServiceError
from riskreg.i18n import gettext_now as _
from riskreg.reminders.claims import (
    DEFAULT_CLAIM_TIMEOUT,
    blocking_keys,
    claim_reminders,
    record_results,
    release_claims,
)
from riskreg.reminders.decide import (
    STOCKHOLM,
    due_reminders,
    local_date,
)
from riskreg.reminders.digest import (
    Digest,
    OutgoingDigest,
    build_messages,
    check_settings,
    digest_subject,
    group_digests,
)
from riskreg.reminders.policy import non_working_reason
from riskreg.reminders.policy_store import load_policy
from riskreg.reminders.recipients import RecipientDirectory, open_items
from riskreg.reminders.smtp import SendResult, SmtpConfig, send_digests

# --- one run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestOutcome:
    address: str
    name: str
    locale: str
    subject: str
    entries: int
    reminders: int
    ok: bool | None  # None: not attempted (dry run)
    error: str | None = None


@dataclass
class RunReport:
    """What one run decided and did; ``lines()`` is the CLI's summary."""

    run_id: str
    now: dt.datetime
    today: dt.date
    dry_run: bool
    non_working: str | None = None
    open_items: int = 0
    due: int = 0
    already_handled: int = 0
    claimed: int = 0
    taken_by_other_run: int = 0
    sent: int = 0
    failed: int = 0
    digests: list[DigestOutcome] = field(default_factory=list)
    error: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.error is None and self.failed == 0 and all(d.ok is not False for d in self.digests)
        )

    def lines(self) -> list[str]:
        when = self.now.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
        head = "Provkörning" if self.dry_run else "Körning"
        out = [f"{head} {self.run_id} {when} (Stockholm), {self.open_items} öppna ärenden."]
        if self.non_working:
            out.append(
                f"{self.today} är ingen arbetsdag ({self.non_working}); inga påminnelser skickas. "
                "Det som förfaller skickas nästa arbetsdag."
            )
            return out
        out.append(
            f"{self.due} påminnelser att skicka, {self.already_handled} redan skickade "
            "eller under utskick."
        )
        if self.taken_by_other_run:
            out.append(f"{self.taken_by_other_run} togs av en annan körning samtidigt.")
        for problem in self.problems:
            out.append(f"Varning: {problem}")
        for d in self.digests:
            status = "skulle skickas" if d.ok is None else "skickad" if d.ok else "EJ SKICKAD"
            line = (
                f"  {d.address} ({d.locale}): {d.entries} ärenden, {d.reminders} påminnelser, "
                f"{status}: {d.subject}"
            )
            if d.error:
                line += f"\n    {d.error}"
            out.append(line)
        if self.dry_run:
            out.append(f"{len(self.digests)} sammandrag skulle skickas; inget skickades.")
        else:
            out.append(
                f"{sum(1 for d in self.digests if d.ok)} av {len(self.digests)} sammandrag "
                f"skickade; {self.sent} påminnelser loggade som skickade, "
                f"{self.failed} misslyckade."
            )
        return out


@dataclass(frozen=True)
class MailSettings:
    """What a run needs from the app configuration."""

    config: Mapping[str, Any]  # the MAIL_* keys, as send_digests reads them
    base_url: str
    sender: str | tuple[str, str]
    claim_timeout: dt.timedelta = DEFAULT_CLAIM_TIMEOUT

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        minutes = config.get("REMINDER_CLAIM_TIMEOUT_MINUTES", 60)
        try:
            timeout = dt.timedelta(minutes=int(minutes))
        except (TypeError, ValueError):
            raise ServiceError(
                _(
                    "REMINDER_CLAIM_TIMEOUT_MINUTES måste vara ett antal minuter, inte "
                    "%(minutes)s.",
                    minutes=repr(minutes),
                )
            ) from None
        if timeout <= dt.timedelta(0):
            raise ServiceError(_("REMINDER_CLAIM_TIMEOUT_MINUTES måste vara större än 0."))
        sender = config.get("MAIL_DEFAULT_SENDER")
        if isinstance(sender, list):
            sender = (str(sender[0]), str(sender[1]))
        return cls(
            config=config,
            base_url=str(config.get("BASE_URL") or ""),
            sender=sender or "",
            claim_timeout=timeout,
        )


def _outcomes(outgoing: Sequence[OutgoingDigest], result: SendResult | None) -> list[DigestOutcome]:
    found = []
    for i, out in enumerate(outgoing):
        res = result.results[i] if result is not None else None
        recipient = out.digest.recipient
        found.append(
            DigestOutcome(
                address=recipient.key_address,
                name=recipient.name,
                locale=out.digest.locale,
                subject=str(out.message["Subject"]),
                entries=len(out.digest.entries),
                reminders=len(out.digest.reminders),
                ok=None if res is None else res.ok,
                error=None if res is None or res.ok else res.error,
            )
        )
    return found


def _dry_outcome(digest: Digest, now: dt.datetime) -> DigestOutcome:
    return DigestOutcome(
        address=digest.recipient.key_address,
        name=digest.recipient.name,
        locale=digest.locale,
        subject=digest_subject(digest, now),
        entries=len(digest.entries),
        reminders=len(digest.reminders),
        ok=None,
    )


Sender = Callable[[Sequence[Any], Mapping[str, Any]], SendResult]


def run_reminders(
    session: Session,
    *,
    now: dt.datetime,
    mail: MailSettings,
    dry_run: bool = False,
    send: Sender = send_digests,
    run_id: str | None = None,
    at: dt.datetime | None = None,
) -> RunReport:
    """One reminder run deciding as of ``now``. Commits (claim, then results); a dry run
    writes nothing.

    ``at`` is the real time of the run (default ``now``): claims, ``sent_at`` and
    notifications carry it, and claim expiry is measured on it, so a run with a made-up
    ``now`` (``--now``) can neither take over nor outlive the claims of a real one.

    Raises ServiceError for a configuration that cannot work (before anything is claimed).
    SMTP problems do not raise: they are in the report (``report.ok`` is False).
    """
    at = at or now
    run_id = run_id or uuid.uuid4().hex
    today = local_date(now)
    report = RunReport(run_id=run_id, now=now, today=today, dry_run=dry_run)
    try:
        SmtpConfig.from_mapping(mail.config)
    except ValueError as exc:
        raise ServiceError(
            _("E-postinställningarna går inte att använda: %(exc)s", exc=exc)
        ) from exc

    items = open_items(session)
    report.open_items = len(items)
    reason = non_working_reason(today)
    if reason is not None:
        report.non_working = reason
        session.rollback()
        return report

    policy = load_policy(session)
    directory = RecipientDirectory(session)
    candidates = due_reminders(
        items, policy, now, directory.recipients_for_unit, directory.manager_for_unit, ()
    )
    blocked = blocking_keys(
        session, (r.dedup_key for r in candidates), now=at, claim_timeout=mail.claim_timeout
    )
    # Same as passing ``blocked`` as already_sent: the latest candidate per item and recipient
    # does not depend on what was sent; a sent one is simply dropped (see due_reminders).
    reminders = [r for r in candidates if r.dedup_key not in blocked]
    report.already_handled = len(candidates) - len(reminders)
    report.due = len(reminders)
    report.problems = directory.problems

    if dry_run:
        # What would be sent, without rendering and MIME-encoding 500 messages nobody reads:
        # the digests and their subjects are what the report shows.
        session.rollback()
        try:
            if reminders:  # as build_messages: settings matter once there is a message
                check_settings(mail.sender, mail.base_url)
        except ValueError as exc:
            raise ServiceError(_("Påminnelserna kan inte byggas: %(exc)s", exc=exc)) from exc
        report.digests = [_dry_outcome(d, now) for d in group_digests(reminders)]
        return report
    try:
        outgoing = build_messages(reminders, base_url=mail.base_url, sender=mail.sender, now=now)
    except ValueError as exc:
        session.rollback()
        raise ServiceError(_("Påminnelserna kan inte byggas: %(exc)s", exc=exc)) from exc
    if not reminders:
        session.rollback()
        return report

    # 2. Claim, committed before anything is sent.
    session.rollback()  # end the read transaction; the claim is a short one of its own
    claimed = claim_reminders(
        session, reminders, run_id=run_id, now=at, claim_timeout=mail.claim_timeout
    )
    session.commit()
    report.claimed = len(claimed)
    report.taken_by_other_run = len(reminders) - len(claimed)
    if not claimed:
        return report
    if len(claimed) != len(reminders):
        outgoing = build_messages(claimed, base_url=mail.base_url, sender=mail.sender, now=now)
    claimed_keys = [r.dedup_key for r in claimed]

    # 3. Send (no transaction open) and 4. record; release the claims if anything goes wrong.
    try:
        result = send([o.message for o in outgoing], mail.config)
        sent, failed = record_results(session, outgoing, result, run_id=run_id, now=at)
        record(
            session,
            "reminders.run",
            "reminder_run",
            run_id,
            {
                "now": now.isoformat(),
                "at": at.isoformat(),
                "digests_sent": len(result.sent),
                "digests_failed": len(result.failed),
                "reminders_sent": sent,
                "reminders_failed": failed,
                "error": result.error,
            },
        )
        session.commit()
    except BaseException as exc:
        session.rollback()
        release_claims(
            session, claimed_keys, run_id=run_id, error=f"Körningen avbröts: {exc!r}"[:2000]
        )
        session.commit()
        raise
    report.sent, report.failed = sent, failed
    report.error = result.error
    report.digests = _outcomes(outgoing, result)
    return report
