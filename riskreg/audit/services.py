"""Reading the audit trail: one object's history, the filtered trail, and its export rows.

Over 600 lines: history, filtered trail and export rows share the trail's labels and queries;
not split in issue 13 (grew past 600 lines while the split was done).

For a feature's page, two lines give it an "Ändringshistorik" section (admins and auditors)::

    # view
    history = history_for(db.session, "control", control.id) \\
        if permissions.can_view_audit_trail(current_user) else None
    # template
    {% include "audit/_history.html" %}

``object_type`` is the table name (``Model.__tablename__``), ``object_id`` the primary key; for
entries written with ``record()`` it is whatever the service passed. Field names are shown with
the labels registered here; a feature adds its own with :func:`register_labels`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from riskreg.audit.models import AuditEntry
from riskreg.db import LOCAL_TIMEZONE, LOCAL_TIMEZONE_NAME

__all__ = [
    "ACTION_LABELS",
    "ChainHead",
    "Change",
    "HistoryEntry",
    "TrailFilter",
    "chain_head",
    "export_rows",
    "history_for",
    "object_type_label",
    "register_labels",
    "register_names",
    "trail_page",
]

#: Swedish names of the events. create/update/delete come from the flush listener; the others
#: from record() calls (imports, lockouts, logouts) and may be added by features.
ACTION_LABELS: dict[str, Any] = {
    "create": _l("Skapad"),
    "update": _l("Ändrad"),
    "delete": _l("Borttagen"),
    "import": _l("Import"),
    "lockout": _l("Inloggning spärrad"),
    "logout": _l("Utloggning"),
}

OBJECT_TYPE_LABELS: dict[str, Any] = {
    "user": _l("Användare"),
    "unit": _l("Enhet"),
    "plan": _l("Internkontrollplan"),
    "risk": _l("Risk"),
    "risk_assessment": _l("Riskbedömning"),
    "plan_amendment": _l("Ändring efter fastställande"),
    "organisation": _l("Organisation"),
    "risk_level": _l("Risknivå"),
    "matrix_cell": _l("Riskmatrisruta"),
    "axis_label": _l("Riskmatrisetikett"),
    "control": _l("Granskning"),
    "deviation": _l("Avvikelse"),
    "action": _l("Åtgärd"),
}

FIELD_LABELS: dict[str, dict[str, Any]] = {
    "*": {
        "created_at": _l("Skapad"),
        "updated_at": _l("Ändrad"),
        "name": _l("Namn"),
        "code": _l("Kod"),
        "email": _l("E-post"),
        "reason": _l("Skäl"),
        "title": _l("Rubrik"),
        "rows_digest": _l("Kontrollsumma för raderna"),
    },
    "user": {
        "username": _l("Användarnamn"),
        "full_name": _l("Namn"),
        "password_hash": _l("Lösenord"),
        "role": _l("Roll"),
        "active": _l("Aktiv"),
        "locale": _l("Språk"),
        "session_epoch": _l("Inloggningsomgång"),
        "units": _l("Enheter"),
        "failed_logins": _l("Misslyckade inloggningar"),
    },
    "unit": {
        "parent_id": _l("Överordnad enhet"),
        "manager_id": _l("Chef"),
        "email": _l("Funktionsbrevlåda"),
    },
    "plan": {
        "organisation_id": _l("Organisation"),
        "year": _l("År"),
        "status": _l("Status"),
        "decision_date": _l("Beslutsdatum"),
        "decision_body": _l("Beslutande organ"),
        "decision_paragraph": _l("Paragraf"),
        "diary_number": _l("Diarienummer"),
        "adopted_by_id": _l("Fastställd av"),
        "adopted_at": _l("Fastställd"),
        "rows": _l("Rader"),
        "source": _l("Källa"),
    },
    "risk_assessment": {
        "risk_id": _l("Risk"),
        "changed_by_id": _l("Ändrad av"),
        "changed_at": _l("Ändrad"),
        "old_probability": _l("Tidigare sannolikhet (S)"),
        "old_consequence": _l("Tidigare konsekvens (K)"),
        "new_probability": _l("Sannolikhet (S)"),
        "new_consequence": _l("Konsekvens (K)"),
    },
    "plan_amendment": {
        "plan_id": _l("Internkontrollplan"),
        "risk_id": _l("Risk"),
        "changed_by_id": _l("Ändrad av"),
        "changed_at": _l("Ändrad"),
        "summary": _l("Ändring"),
    },
    "risk": {
        "plan_id": _l("Plan"),
        "position": _l("Ordning"),
        "section": _l("Avsnitt"),
        "title": _l("Risk"),
        "review_area": _l("Granskningsområde"),
        "regulation": _l("Berört reglemente/policy/regler"),
        "method": _l("Metod för granskning"),
        "probability": _l("Sannolikhet (S)"),
        "consequence": _l("Konsekvens (K)"),
        "deadline": _l("Granskning klar"),
        "responsible_unit_id": _l("Ansvarig enhet"),
    },
}


#: Where an object's own page is: object type -> (endpoint, URL argument for the id).
OBJECT_PAGES: dict[str, tuple[str, str]] = {
    "risk": ("risks.show", "risk_id"),
    "plan": ("plans.show", "plan_id"),
    "unit": ("admin.edit_unit", "unit_id"),
    "user": ("admin.edit_user", "user_id"),
}


#: Words for coded values: object type -> field -> stored value -> label (lazy or N_ text).
VALUE_LABELS: dict[str, dict[str, Mapping[Any, Any]]] = {}

VALUE_LABELS["user"] = {
    "role": {
        "admin": _l("Administratör (IK-samordnare)"),
        "controller": _l("Granskare"),
        "unit_member": _l("Ansvarig enhet"),
        "approver": _l("Godkännare"),
        "auditor": _l("Revisor"),
    }
}
VALUE_LABELS["plan"] = {"status": {"draft": _l("Utkast"), "adopted": _l("Fastställd")}}

#: Fields that hold another object's id: object type -> field -> the referenced object type.
#: Fields not listed here follow the naming convention in :func:`_reference_type`.
REFERENCES: dict[str, dict[str, str]] = {"unit": {"parent_id": "unit"}}

#: Fields whose values need their own wording: object type -> field -> f(value) -> text.
FORMATS: dict[str, dict[str, Callable[[Any], str]]] = {}

#: How to name objects of a type: object type -> f(session, ids) -> {id: name}.
NAMERS: dict[str, Callable[[Session, set[int]], dict[int, str]]] = {}


def register_names(object_type: str, namer: Callable[[Session, set[int]], dict[int, str]]) -> None:
    """Let the trail show an object by name instead of its id, e.g. a user by full name."""
    NAMERS[object_type] = namer


def _foundation_namers() -> None:
    def users(session: Session, ids: set[int]) -> dict[int, str]:
        from riskreg.auth.models import User

        rows = session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
        return {row[0]: row[1] for row in rows}

    def units(session: Session, ids: set[int]) -> dict[int, str]:
        from riskreg.auth.models import Unit

        rows = session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))
        return {row[0]: row[1] for row in rows}

    def plans(session: Session, ids: set[int]) -> dict[int, str]:
        from riskreg.plans.models import Plan

        return {
            plan.id: f"{plan.organisation.name} {plan.year}"
            for plan in session.scalars(select(Plan).where(Plan.id.in_(ids)))
        }

    def risks(session: Session, ids: set[int]) -> dict[int, str]:
        from riskreg.risks.models import Risk

        rows = session.execute(select(Risk.id, Risk.title).where(Risk.id.in_(ids)))
        return {row[0]: row[1] for row in rows}

    def assessments(session: Session, ids: set[int]) -> dict[int, str]:
        from riskreg.risks.models import Risk, RiskAssessment

        rows = session.execute(
            select(RiskAssessment.id, Risk.title)
            .join(Risk, Risk.id == RiskAssessment.risk_id)
            .where(RiskAssessment.id.in_(ids))
        )
        return {row[0]: row[1] for row in rows}

    def organisations(session: Session, ids: set[int]) -> dict[int, str]:
        from riskreg.plans.models import Organisation

        rows = session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
        )
        return {row[0]: row[1] for row in rows}

    NAMERS.update(
        {
            "user": users,
            "unit": units,
            "plan": plans,
            "risk": risks,
            "organisation": organisations,
            "risk_assessment": assessments,
        }
    )


_foundation_namers()


def register_labels(
    object_type: str,
    fields: Mapping[str, Any] | None = None,
    *,
    label: Any = None,
    actions: Mapping[str, Any] | None = None,
    page: tuple[str, str] | None = None,
    values: Mapping[str, Mapping[Any, Any]] | None = None,
    references: Mapping[str, str] | None = None,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
) -> None:
    """Let a feature name its object type, fields and record() actions (use lazy_gettext),
    and say which endpoint shows one object, e.g.::

        register_labels("control", {"title": _l("Rubrik")}, label=_l("Granskning"),
                        actions={"draw": _l("Urval draget")}, page=("controls.show", "control_id"))
    """
    if label:
        OBJECT_TYPE_LABELS[object_type] = label
    if fields:
        FIELD_LABELS.setdefault(object_type, {}).update(fields)
    if actions:
        ACTION_LABELS.update(actions)
    if page:
        OBJECT_PAGES[object_type] = page
    if values:
        VALUE_LABELS.setdefault(object_type, {}).update(values)
    if references:
        REFERENCES.setdefault(object_type, {}).update(references)
    if formats:
        FORMATS.setdefault(object_type, {}).update(formats)


def object_type_label(object_type: str) -> str:
    return str(OBJECT_TYPE_LABELS.get(object_type, object_type))


def _field_label(object_type: str, name: str) -> str:
    label = FIELD_LABELS.get(object_type, {}).get(name) or FIELD_LABELS["*"].get(name) or name
    return str(label)


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    old: Any
    new: Any
    #: The values in words (status names, people by name), when the trail knows them.
    old_words: str | None = None
    new_words: str | None = None

    @property
    def old_text(self) -> str:
        return self.old_words if self.old_words is not None else _display(self.old)

    @property
    def new_text(self) -> str:
        return self.new_words if self.new_words is not None else _display(self.new)


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    ip: str | None
    action: str
    object_type: str
    object_id: str
    reason: str | None
    changes: list[Change] = field(default_factory=list)
    #: The object's name (a risk's title, a user's name), when the trail can tell it.
    object_name: str | None = None
    #: Who, by name (``actor_name`` is the login name the entry was written with).
    actor_full_name: str | None = None

    @property
    def actor_label(self) -> str:
        return self.actor_full_name or self.actor_name

    @property
    def action_label(self) -> str:
        return str(ACTION_LABELS.get(self.action, self.action))

    @property
    def object_label(self) -> str:
        return object_type_label(self.object_type)


_ISO_DATETIME = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}\Z")
#: Shown in the field lists of no entry: the object id is the entry's own column.
HIDDEN_FIELDS = frozenset({"id"})
DISPLAY_TIMEZONE = LOCAL_TIMEZONE


def _display(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        return datetime.fromisoformat(value).astimezone(DISPLAY_TIMEZONE).strftime(
            "%Y-%m-%d %H:%M"
        )
    if value is True:
        return gettext("ja")
    if value is False:
        return gettext("nej")
    if isinstance(value, list):
        return ", ".join(_display(v) for v in value) or "–"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _entry(row: AuditEntry) -> HistoryEntry:
    try:
        changes_data = json.loads(row.payload).get("changes") or {}
    except (ValueError, AttributeError):
        changes_data = {}
    changes: list[Change] = []
    if isinstance(changes_data, dict):
        for name, value in changes_data.items():
            if name in HIDDEN_FIELDS:
                continue
            if isinstance(value, list) and len(value) == 2:
                old, new = value
            else:  # record() details: a value, not an old → new pair
                old, new = None, value
            changes.append(Change(name, _field_label(row.object_type, name), old, new))
    return HistoryEntry(
        id=row.id,
        at=row.at,
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        ip=row.ip,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        reason=row.reason,
        changes=changes,
    )


def _reference_type(object_type: str, name: str) -> str | None:
    """The object type a field points to: registered, or by the column naming convention."""
    registered = REFERENCES.get(object_type, {}).get(name)
    if registered:
        return registered
    if name.endswith("_by_id") or name in {"actor_id", "manager_id", "user_id"}:
        return "user"
    if name.endswith("unit_id"):
        return "unit"
    if name.endswith("_id"):
        return name.removesuffix("_id")
    if name.endswith("_ids"):
        return name.removesuffix("_ids").removeprefix("superseded_")
    return None


def _as_ids(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    ids = []
    for item in values:
        if isinstance(item, bool):
            return []
        if isinstance(item, int):
            ids.append(item)
        elif isinstance(item, str) and item.isascii() and item.isdigit():
            ids.append(int(item))
        elif item is not None:
            return []
    return ids


def _value_words(labels: Mapping[Any, Any], value: Any) -> str | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    words = []
    for item in values:
        label = labels.get(item)
        if label is None:
            return None
        words.append(gettext(label) if isinstance(label, str) else str(label))
    return ", ".join(words) or "–"


def _dict_words(object_type: str, value: dict[str, Any]) -> str:
    """A structured detail (draw parameters, a digest) as "label: value" pairs."""
    if "sha256" in value:  # a digest of rows: the hash is what a reader compares
        return str(value["sha256"])
    parts = []
    for key, item in value.items():
        text = _dict_words(object_type, item) if isinstance(item, dict) else _display(item)
        parts.append(f"{_field_label(object_type, key)}: {text}")
    return "; ".join(parts) or "–"


def _in_words(session: Session, entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """Put status values, people and objects in words: one query per referenced type."""
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        if entry.actor_id is not None:
            wanted.setdefault("user", set()).add(entry.actor_id)
        if entry.object_id.isascii() and entry.object_id.isdigit():
            wanted.setdefault(entry.object_type, set()).add(int(entry.object_id))
        for change in entry.changes:
            kind = _reference_type(entry.object_type, change.field)
            if kind in NAMERS:
                for value in (change.old, change.new):
                    wanted.setdefault(kind, set()).update(_as_ids(value))
    names: dict[str, dict[int, str]] = {
        kind: NAMERS[kind](session, ids) for kind, ids in wanted.items() if kind in NAMERS and ids
    }

    def words(object_type: str, name: str, value: Any) -> str | None:
        formatter = FORMATS.get(object_type, {}).get(name)
        if formatter is not None and value is not None:
            return formatter(value)
        if isinstance(value, str) and value.startswith("{"):
            try:
                value = json.loads(value)
            except ValueError:
                return None
        if isinstance(value, dict):
            return _dict_words(object_type, value)
        labels = VALUE_LABELS.get(object_type, {}).get(name)
        if labels is not None:
            return _value_words(labels, value)
        kind = _reference_type(object_type, name)
        if kind not in names or value is None:
            return None
        ids = _as_ids(value)
        if not ids:
            return None
        known = names[kind]
        label = object_type_label(kind)
        return ", ".join(known.get(i) or gettext("%(type)s (borttagen)", type=label) for i in ids)

    result = []
    for entry in entries:
        changes = [
            Change(
                c.field,
                c.label,
                c.old,
                c.new,
                words(entry.object_type, c.field, c.old),
                words(entry.object_type, c.field, c.new),
            )
            for c in entry.changes
        ]
        object_name = (
            names.get(entry.object_type, {}).get(int(entry.object_id))
            if entry.object_id.isascii() and entry.object_id.isdigit()
            else None
        )
        result.append(
            HistoryEntry(
                id=entry.id,
                at=entry.at,
                actor_id=entry.actor_id,
                actor_name=entry.actor_name,
                ip=entry.ip,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                reason=entry.reason,
                changes=changes,
                object_name=object_name,
                actor_full_name=names.get("user", {}).get(entry.actor_id or 0),
            )
        )
    return result


def history_for(
    session: Session,
    object_type: str,
    object_id: int | str,
    *,
    related: Iterable[tuple[str, int | str]] = (),
    limit: int = 200,
) -> list[HistoryEntry]:
    """The object's audit entries, newest first (at most ``limit``).

    ``related`` adds other objects' entries to the same list, e.g. a control's sampled items.
    """
    wanted = [(object_type, str(object_id)), *((t, str(i)) for t, i in related)]
    query = (
        select(AuditEntry)
        .where(
            or_(
                *(
                    (AuditEntry.object_type == kind) & (AuditEntry.object_id == ident)
                    for kind, ident in wanted
                )
            )
        )
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return _in_words(session, [_entry(row) for row in session.scalars(query)])


# --- the trail page and its export ------------------------------------------------------------


@dataclass
class TrailFilter:
    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = None  # actor name, exact (case-insensitive)
    action: str | None = None
    date_from: date | None = None  # local dates (Europe/Stockholm), inclusive
    date_to: date | None = None
    timezone: str = LOCAL_TIMEZONE_NAME

    def query(self) -> Select[AuditEntry]:
        query = select(AuditEntry)
        if self.object_type:
            query = query.where(AuditEntry.object_type == self.object_type)
        if self.object_id:
            query = query.where(AuditEntry.object_id == self.object_id)
        if self.actor:
            query = query.where(func.lower(AuditEntry.actor_name) == self.actor.strip().lower())
        if self.action:
            query = query.where(AuditEntry.action == self.action)
        zone = ZoneInfo(self.timezone)
        if self.date_from:
            query = query.where(AuditEntry.at >= datetime.combine(self.date_from, time(), zone))
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), time(), zone)
            query = query.where(AuditEntry.at < end)
        return query


def trail_page(
    session: Session, flt: TrailFilter, *, before_id: int | None = None, size: int = 100
) -> tuple[list[HistoryEntry], int | None]:
    """One page of the filtered trail, newest first, and the id to continue from (or None)."""
    query = flt.query()
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(size + 1)).all()
    more = len(rows) > size
    entries = _in_words(session, [_entry(row) for row in rows[:size]])
    return entries, (entries[-1].id if more and entries else None)


@dataclass(frozen=True)
class ChainHead:
    """The newest entry: writing its id and hash down outside riskreg (minutes, a signed
    report) lets a later `riskreg audit verify` prove that nothing after it was removed."""

    count: int
    last_id: int | None
    last_hash: str | None


def chain_head(session: Session) -> ChainHead:
    count = session.scalar(select(func.count(AuditEntry.id))) or 0
    last = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    return ChainHead(count, last[0] if last else None, last[1] if last else None)


def known_object_types(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.object_type).distinct().order_by("object_type")))


EXPORT_HEADER = (
    _l("Post"),
    _l("Tid"),
    _l("Användare"),
    _l("Användar-id"),
    _l("IP-adress"),
    _l("Händelse"),
    _l("Objekttyp"),
    _l("Objekt-id"),
    _l("Skäl"),
    _l("Ändringar"),
    _l("Föregående hash"),
    _l("Hash"),
    _l("Hashad post (JSON)"),
    _l("Hashad post (UTF-8, hex)"),
)


def export_rows(session: Session, flt: TrailFilter) -> Iterator[tuple[Any, ...]]:
    """Rows for the CSV/XLSX export, oldest first, streamed in batches.

    The hash columns let anyone re-check the chain outside riskreg: each row's hash is
    SHA-256 over ``previous hash + "\\n" + the hashed post`` (UTF-8). The post is given twice:
    as JSON to read, which a CSV export neutralises against formulas like every text (so it
    may carry an added ``'``), and as hex of its UTF-8 bytes, exact and harmless in any
    spreadsheet: re-check with the hex column. A filtered export holds a
    subset, so only consecutive rows chain.
    """
    zone = ZoneInfo(flt.timezone)
    query = flt.query().order_by(AuditEntry.id).execution_options(yield_per=1000)
    batch: list[AuditEntry] = []
    for row in session.scalars(query):
        batch.append(row)
        if len(batch) == 500:
            yield from _export_batch(session, batch, zone)
            batch = []
    yield from _export_batch(session, batch, zone)


def _export_batch(
    session: Session, rows: list[AuditEntry], zone: ZoneInfo
) -> Iterator[tuple[Any, ...]]:
    if not rows:
        return
    entries = _in_words(session, [_entry(row) for row in rows])
    for row, entry in zip(rows, entries, strict=True):
        changes = "; ".join(
            f"{c.label}: {c.old_text} → {c.new_text}"
            if c.old is not None
            else f"{c.label}: {c.new_text}"
            for c in entry.changes
        )
        yield (
            row.id,
            row.at.astimezone(zone).replace(tzinfo=None, microsecond=0),
            row.actor_name,
            row.actor_id,
            row.ip or "",
            entry.action_label,
            object_type_label(row.object_type),
            row.object_id,
            row.reason or "",
            changes,
            row.prev_hash,
            row.hash,
            row.payload,
            row.payload.encode("utf-8").hex(),
        )
