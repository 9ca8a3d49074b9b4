"""`riskreg audit verify`: the chain, its checkpoints and the business rows, in one streamed pass.

What is checked (docs/security.md says what that proves and what it cannot):

* **The chain.** Every entry's hash is SHA-256 over the previous hash and its payload, and the
  columns copied out of the payload still agree with it.
* **Numbering.** Entries are numbered 1, 2, 3, … without holes (riskreg/audit/trail.py assigns
  the numbers under the chain lock), so a missing number is a deleted entry, even when the
  chain was recomputed around the hole.
* **Checkpoints** (riskreg/audit/checkpoint.py): signed records of the chain's head kept
  outside the database. The entry a checkpoint names must still exist (else the trail was cut
  short) and still have the hash the checkpoint recorded (else it, or an entry before it, was
  rewritten and the chain recomputed). An entry numbered after a checkpoint but dated before it
  was written later and backdated.
* **Reconciliation.** Replaying the create/update/delete entries of every audited table gives
  the state each row must be in now; each row's current values are compared with it, so a row
  changed, inserted or deleted by SQL without an audit entry is found. Bulk tables that are not
  audited row by row are listed in :data:`NOT_RECONCILED` with the reason.

Everything is streamed (``yield_per``; raw driver rows, no ORM objects, a server-side cursor on
PostgreSQL): memory grows with the number of audited rows (their
replayed values), not with the number of entries.

Over 600 lines: the four checks share one streamed pass over the trail (reading it twice would
double the time at 500,000 entries), so their state lives together in this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import TypeDecorator, func, select
from sqlalchemy.orm import Mapper, Session

from riskreg.audit.digests import DIGEST_KEY
from riskreg.audit.models import AuditEntry
from riskreg.audit.trail import GENESIS_HASH, REDACTED, chain_hash
from riskreg.db import Base
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _

if TYPE_CHECKING:
    from riskreg.audit.checkpoint import Checkpoint

__all__ = ["NOT_RECONCILED", "Finding", "TrailReport", "entry_count_estimate", "verify_trail"]

#: Tables (or columns, as "table.column") the reconciliation does not compare, and why
#: (N_-marked: shown translated).
NOT_RECONCILED: dict[str, str] = {
    "population_item": N_(
        "populationsrader importeras i bulk; importen loggas med filens SHA-256"
    ),
    "reminder_log": N_("driftlogg för påminnelser; varje körning loggas som en händelse"),
    "notification": N_("aviseringar i riskreg; varje körning loggas som en händelse"),
    "user.session_epoch": N_(
        "räknas upp vid utloggning utan radhändelse (utloggningen loggas)"
    ),
    "user.password_hash": N_(
        "döljs i spåret; lösenordsbyten syns som händelser men inte värden"
    ),
}

#: How much earlier than a checkpoint an entry after its head may be dated: a transaction
#: that took its time between writing the entry and committing.
BACKDATE_TOLERANCE = timedelta(minutes=15)
#: Findings of one kind beyond this many are counted, not listed.
MAX_LISTED = 50

_DELETED = object()

#: How the trail names the members of an audited collection (their str()): by this column.
MEMBER_KEYS = {"unit": "code"}


@dataclass(frozen=True)
class Finding:
    kind: str  # chain, gap, truncation, rewrite, backdated, checkpoint, reconciliation
    message: str
    entry: int | None = None


@dataclass
class TrailReport:
    checked: int = 0
    last_id: int | None = None
    last_hash: str | None = None
    checkpoints: int = 0
    rows_compared: int = 0
    findings: list[Finding] = field(default_factory=list)
    suppressed: dict[str, int] = field(default_factory=dict)
    reconciled: bool = False

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, kind: str, message: str, entry: int | None = None) -> None:
        listed = sum(1 for f in self.findings if f.kind == kind)
        if listed >= MAX_LISTED:
            self.suppressed[kind] = self.suppressed.get(kind, 0) + 1
            return
        self.findings.append(Finding(kind, message, entry))


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _span(first: int, last: int) -> str:
    if first == last:
        return _("post %(n)s", n=first)
    return _("posterna %(first)s–%(last)s", first=first, last=last)


# --- normalising values for comparison --------------------------------------------------------


def _python_type(column: Any) -> type | None:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    try:
        found = kind.python_type
    except NotImplementedError:
        return None
    return found if isinstance(found, type) and found is not object else None


def _norm(kind: type | None, value: Any) -> Any:
    """One comparable form for a value as the trail wrote it (JSON) and as the row holds it."""
    if value is None:
        return None
    if hasattr(value, "value") and not isinstance(value, bool | int | float | str):
        value = value.value  # an Enum member
    try:
        if kind is bool:
            return bool(value)
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
        if kind is Decimal:
            return Decimal(str(value)).normalize()
        if kind is datetime:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else value
            return moment.timestamp()
        if kind is date:
            return value if isinstance(value, str) else value.isoformat()
    except (ValueError, TypeError, InvalidOperation, AttributeError):
        return value
    if isinstance(value, bytes):
        import hashlib

        return "sha256:" + hashlib.sha256(value).hexdigest()
    return value if isinstance(value, str) else str(value)


@dataclass
class _Table:
    name: str
    mapper: Mapper[Any]
    keys: list[str]  # attribute keys compared
    types: dict[str, type | None]
    pk: list[str]
    skipped: frozenset[str]
    #: audited many-to-many collections: name -> (target table, association select)
    collections: dict[str, tuple[str, Any]] = field(default_factory=dict)


def _audited_tables() -> dict[str, _Table]:
    tables: dict[str, _Table] = {}
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        name = getattr(cls, "__tablename__", None)
        if not name or not getattr(cls, "__audit__", True) or name in NOT_RECONCILED:
            continue
        if mapper.inherits is not None:
            continue
        redacted = set(getattr(cls, "__audit_redact__", ()))
        skipped = redacted | {
            key.split(".", 1)[1] for key in NOT_RECONCILED if key.startswith(name + ".")
        }
        keys: list[str] = []
        types: dict[str, type | None] = {}
        for attr in mapper.column_attrs:
            column = attr.columns[0]
            # version is not audited; columns the database or SQLAlchemy refreshes on update
            # (onupdate) change without an attribute event, so the trail cannot carry them.
            if attr.key == "version" or column.onupdate is not None or attr.key in skipped:
                continue
            keys.append(attr.key)
            types[attr.key] = _python_type(column)
        pk = [mapper.get_property_by_column(col).key for col in mapper.primary_key]
        collections: dict[str, tuple[str, Any]] = {}
        for collection in getattr(cls, "__audit_collections__", ()):
            relation = mapper.relationships[collection]
            target = relation.mapper.class_.__tablename__
            # With a secondary table the relation always has its secondary pairs.
            secondary_pairs = relation.secondary_synchronize_pairs
            if relation.secondary is None or secondary_pairs is None or target not in MEMBER_KEYS:
                continue
            # synchronize pairs are (parent column, association column)
            own_col = relation.synchronize_pairs[0][1]
            other_col = secondary_pairs[0][1]
            collections[collection] = (target, select(own_col, other_col))
        tables[name] = _Table(name, mapper, keys, types, pk, frozenset(skipped), collections)
    return tables


class _Replay:
    """The state the create/update/delete entries describe, per table and row id."""

    def __init__(self, tables: dict[str, _Table], report: TrailReport) -> None:
        self.tables = tables
        self.report = report
        self.state: dict[str, dict[str, Any]] = {name: {} for name in tables}
        self.unknown: dict[str, dict[str, set[str]]] = {name: {} for name in tables}
        self.last_entry: dict[tuple[str, str], int] = {}
        #: (table, row id, collection) -> member ids as the trail describes them
        self.members: dict[tuple[str, str, str], set[str] | list[Any]] = {}
        #: (table, group as JSON) -> (sha256, group, entry number) of the newest digest
        self.digests: dict[tuple[str, str], tuple[str, dict[str, Any], int]] = {}

    def apply(
        self, entry_id: int, action: str, object_type: str, object_id: str, data: Any
    ) -> None:
        table = self.tables.get(object_type)
        if table is None or action not in ("create", "update", "delete"):
            return
        changes = data.get("changes") if isinstance(data, dict) else None
        if not isinstance(changes, dict):
            changes = {}
        rows = self.state[object_type]
        self.last_entry[(object_type, object_id)] = entry_id
        if action == "delete":
            rows[object_id] = _DELETED
            self.unknown[object_type].pop(object_id, None)
            return
        current = rows.get(object_id)
        if action == "create" or current is None or current is _DELETED:
            if action == "update":
                # An update of a row whose creation is not in the trail (it predates it):
                # only the fields the updates name can be compared.
                self.unknown[object_type][object_id] = set(table.keys)
            else:
                self.unknown[object_type].pop(object_id, None)
            current = {}
            rows[object_id] = current
        unknown = self.unknown[object_type].get(object_id)
        for name, (target, _query) in table.collections.items():
            pair = changes.get(name)
            if isinstance(pair, list) and len(pair) == 2:
                self.members[(object_type, object_id, name)] = self._member_ids(target, pair[1])
            elif action == "create":
                self.members[(object_type, object_id, name)] = set()
        for name, pair in changes.items():
            if not isinstance(pair, list) or len(pair) != 2 or name not in table.types:
                continue
            new = pair[1]
            if new == REDACTED:
                continue
            current[name] = _norm(table.types[name], new)
            if unknown is not None:
                unknown.discard(name)

    def _member_ids(self, target: str, names: Any) -> set[str] | list[Any]:
        """Resolve the members' names (e.g. unit codes) to ids as the replay stands now; the
        names themselves when some member is not known yet (created later in the same flush),
        to be resolved against the final state."""
        if not isinstance(names, list):
            return set()
        key = MEMBER_KEYS[target]
        rows = self.state.get(target, {})
        wanted = {_norm(str, n) for n in names}
        found = {ident for ident, row in rows.items() if row is not _DELETED
                 and row.get(key) in wanted}  # fmt: skip
        return found if len(found) == len(wanted) else [target, *wanted]

    def compare_collections(self, session: Session) -> None:
        report = self.report
        for name, table in self.tables.items():
            for collection, (_target, query) in table.collections.items():
                actual: dict[str, set[str]] = {}
                for owner, member in session.execute(query):
                    actual.setdefault(str(owner), set()).add(str(member))
                for ident, row in self.state[name].items():
                    if row is _DELETED:
                        continue
                    want = self.members.get((name, ident, collection), set())
                    if isinstance(want, list):
                        resolved = self._member_ids(want[0], want[1:])
                        if isinstance(resolved, list):
                            continue  # a member the trail does not know: cannot tell
                        want = resolved
                    have = actual.get(ident, set())
                    if have != want:
                        last = self.last_entry.get((name, ident))
                        report.add(
                            "reconciliation",
                            _(
                                "%(table)s %(id)s: %(columns)s stämmer inte med spåret "
                                "(senaste händelse: post %(last)s)",
                                table=name,
                                id=ident,
                                columns=collection,
                                last=last,
                            ),
                            last,
                        )

    def digest(self, entry_id: int, recorded: dict[str, Any]) -> None:
        table, where, digest = recorded.get("table"), recorded.get("where"), recorded.get("sha256")
        if isinstance(table, str) and isinstance(where, dict) and isinstance(digest, str):
            self.digests[(table, json.dumps(where, sort_keys=True))] = (digest, where, entry_id)

    def compare_digests(self, session: Session) -> None:
        from riskreg.audit.digests import rows_digest

        report = self.report
        metadata = Base.metadata
        groups: dict[str, set[str]] = {}
        for (name, key), (digest, where, entry_id) in self.digests.items():
            table = metadata.tables.get(name)
            if table is None or any(column not in table.c for column in where):
                continue
            groups.setdefault(name, set()).add(key)
            if rows_digest(session, table, where) == digest:
                continue
            if self._owner_deleted(table, where):
                continue
            group = ", ".join(f"{k}={v}" for k, v in where.items())
            report.add(
                "reconciliation",
                _(
                    "%(table)s (%(group)s): raderna stämmer inte med kontrollsumman i post "
                    "%(entry)s (ändrade, tillagda eller borttagna utan händelse)",
                    table=name,
                    group=group,
                    entry=entry_id,
                ),
                entry_id,
            )
        for name, keys in groups.items():
            table = metadata.tables[name]
            columns = sorted({c for key in keys for c in json.loads(key)})
            present = session.execute(select(*(table.c[c] for c in columns)).distinct())
            for values in present:
                where = dict(zip(columns, values, strict=True))
                if json.dumps(where, sort_keys=True) not in keys:
                    group = ", ".join(f"{k}={v}" for k, v in where.items())
                    report.add(
                        "reconciliation",
                        _(
                            "%(table)s (%(group)s): rader som ingen händelse har en "
                            "kontrollsumma för",
                            table=name,
                            group=group,
                        ),
                    )

    def _owner_deleted(self, table: Any, where: dict[str, Any]) -> bool:
        """The group's rows went with their owner (ON DELETE CASCADE of an audited delete)."""
        for column, value in where.items():
            for key in table.c[column].foreign_keys:
                rows = self.state.get(key.column.table.name)
                if rows is not None and rows.get(str(value)) is _DELETED:
                    return True
        return False

    def compare(self, session: Session) -> None:
        self.compare_collections(session)
        self.compare_digests(session)
        report = self.report
        for name, table in self.tables.items():
            expected = self.state[name]
            cls = table.mapper.class_
            columns = [getattr(cls, key) for key in table.keys]
            pk_positions = [table.keys.index(key) for key in table.pk]
            seen: set[str] = set()
            query = select(*columns).execution_options(yield_per=2000)
            for row in session.execute(query):
                report.rows_compared += 1
                ident = ":".join(str(row[i]) for i in pk_positions)
                seen.add(ident)
                want = expected.get(ident)
                if want is None or want is _DELETED:
                    report.add(
                        "reconciliation",
                        _(
                            "%(table)s %(id)s: raden finns men spåret har ingen händelse som "
                            "skapade den (spåret säger att den togs bort)",
                            table=name,
                            id=ident,
                        )
                        if want is _DELETED
                        else _(
                            "%(table)s %(id)s: raden finns men spåret har ingen händelse som "
                            "skapade den",
                            table=name,
                            id=ident,
                        ),
                    )
                    continue
                unknown = self.unknown[name].get(ident, set())
                differing = []
                for position, key in enumerate(table.keys):
                    if key in unknown:
                        continue
                    have = _norm(table.types[key], row[position])
                    if have != want.get(key):
                        differing.append(key)
                if differing:
                    last = self.last_entry.get((name, ident))
                    report.add(
                        "reconciliation",
                        _(
                            "%(table)s %(id)s: %(columns)s stämmer inte med spåret "
                            "(senaste händelse: post %(last)s)",
                            table=name,
                            id=ident,
                            columns=", ".join(differing),
                            last=last,
                        ),
                        last,
                    )
            for ident, want in expected.items():
                if want is not _DELETED and ident not in seen:
                    last = self.last_entry.get((name, ident))
                    report.add(
                        "reconciliation",
                        _(
                            "%(table)s %(id)s: raden saknas men spåret har ingen händelse som "
                            "tog bort den (senaste händelse: post %(last)s)",
                            table=name,
                            id=ident,
                            last=last,
                        ),
                        last,
                    )
        report.reconciled = True


#: The entries as the driver returns them, in number order. Raw SQL, no type processing: the
#: loop below runs once per entry, and SQLAlchemy's row processing (SQLite's date-time regex,
#: the UTC decorator) cost more than the hashing itself.
_ENTRIES_SQL = (
    "SELECT id, at, actor_id, actor_name, ip, action, object_type, object_id, reason, payload, "
    "prev_hash, hash FROM audit_entry ORDER BY id"
)


def _utc(value: datetime | str) -> datetime:
    """An entry's ``at`` as the driver gives it (SQLite: text, PostgreSQL: aware) in UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stream_entries(
    session: Session, batch: int, progress: Callable[[int], None] | None
) -> Iterator[Any]:
    """The entries straight from the driver's cursor, ``batch`` rows per fetch.

    On PostgreSQL a named (server-side) cursor in the session's transaction, so the snapshot
    is the one the reconciliation reads, and the client never holds more than one batch.
    SQLAlchemy's result layer is bypassed on purpose: with it, fetching cost as much as the
    hashing and the JSON together.
    """
    connection = session.connection().connection  # the pooled DBAPI connection, in the tx
    if session.get_bind().dialect.name == "postgresql":
        cursor = connection.cursor(name="riskreg_audit_verify")
    else:
        cursor = connection.cursor()
    try:
        cursor.execute(_ENTRIES_SQL)
        while chunk := cursor.fetchmany(batch):
            yield from chunk
            if progress is not None:
                progress(len(chunk))
    finally:
        cursor.close()


#: How SQLite holds a date-time (UTC, fixed width): such texts sort as the moments do.
_SQLITE_AT = "%Y-%m-%d %H:%M:%S.%f"


def _same_at(raw: datetime | str, written: object) -> bool:
    """Whether the ``at`` column holds the moment the hashed payload names (as ISO, UTC).

    The fast path compares SQLite's stored text (``2025-01-01 00:00:01.000000``, always UTC)
    with the payload's text (``2025-01-01T00:00:01+00:00``) without building datetimes, which
    cost as much as the hash; anything else takes the exact comparison.
    """
    if (
        isinstance(raw, str)
        and isinstance(written, str)
        and len(raw) == 26
        and written[10:11] == "T"
        and written.endswith("+00:00")
        and raw[:10] == written[:10]
    ):
        rest = written[11:-6]
        if raw[11:] == (rest if len(rest) == 15 else rest + ".000000"):
            return True
    return written == _utc(raw).isoformat()


def entry_count_estimate(session: Session) -> int:
    """The highest entry number: the length of a progress bar, from the primary key alone."""
    return int(session.scalar(select(func.max(AuditEntry.id))) or 0)


def verify_trail(
    session: Session,
    checkpoints: Sequence[Checkpoint] = (),
    *,
    reconcile: bool = True,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> TrailReport:
    """Check the whole trail in one pass over the entries; see the module docstring.

    ``progress`` is called after each batch with the number of entries it held (for a
    progress bar). The entries are streamed: a server-side cursor on PostgreSQL, ``fetchmany``
    on SQLite; only the replayed state of the audited rows stays in memory.
    """
    report = TrailReport()
    usable = sorted((c for c in checkpoints if c.usable), key=lambda c: (c.entry, c.created_at))
    report.checkpoints = len(usable)
    n_usable = len(usable)
    at_entry: dict[int, list[Checkpoint]] = {}
    for checkpoint in usable:
        at_entry.setdefault(checkpoint.entry, []).append(checkpoint)
    replay = _Replay(_audited_tables(), report) if reconcile else None
    replayed = replay.tables if replay is not None else {}

    cp_index = 0  # checkpoints with entry < current id are usable[:cp_index]
    latest_before: Checkpoint | None = None
    last_good_checkpoint = 0  # entry number of the newest checkpoint that matched
    expected = 1
    prev = GENESIS_HASH
    checked = 0
    last_id: int | None = None
    loads = json.loads
    limit, limit_text = datetime.min.replace(tzinfo=UTC), ""  # set with latest_before
    for row in _stream_entries(session, batch, progress):
        (entry_id, raw_at, actor_id, actor_name, ip, action, object_type, object_id, reason,
         payload, prev_hash, digest) = row  # fmt: skip
        checked += 1
        if entry_id > expected:
            report.add(
                "gap",
                _(
                    "%(span)s saknas: numreringen hoppar från %(before)s till %(entry)s",
                    span=_span(expected, entry_id - 1),
                    before=expected - 1,
                    entry=entry_id,
                ),
                expected,
            )
        if prev_hash != prev:
            report.add(
                "chain",
                _(
                    "post %(entry)s: föregående hash stämmer inte (kedjan bruten före posten)",
                    entry=entry_id,
                ),
                entry_id,
            )
        if chain_hash(prev_hash, payload) != digest:
            report.add(
                "chain",
                _("post %(entry)s: innehållet har ändrats efter att det skrevs", entry=entry_id),
                entry_id,
            )
        try:
            data = loads(payload)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            report.add(
                "chain",
                _("post %(entry)s: den hashade posten är ingen JSON", entry=entry_id),
                entry_id,
            )
            data = {}
        elif (
            data.get("object_id") != object_id
            or data.get("object_type") != object_type
            or data.get("action") != action
            or data.get("actor_name") != actor_name
            or data.get("actor_id") != actor_id
            or data.get("ip") != ip
            or data.get("reason") != reason
            or not _same_at(raw_at, data.get("at"))
        ):
            at = _utc(raw_at)
            mirrored = {
                "actor_id": actor_id,
                "actor_name": actor_name,
                "ip": ip,
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "reason": reason,
                "at": at.isoformat(),
            }
            key = next(k for k, v in mirrored.items() if data.get(k) != v)
            report.add(
                "chain",
                _(
                    "post %(entry)s: kolumnen %(column)s stämmer inte med den hashade posten",
                    entry=entry_id,
                    column=key,
                ),
                entry_id,
            )
        while cp_index < n_usable and usable[cp_index].entry < entry_id:
            candidate = usable[cp_index]
            if latest_before is None or candidate.created_at > latest_before.created_at:
                latest_before = candidate
                limit = candidate.created_at.astimezone(UTC) - BACKDATE_TOLERANCE
                limit_text = limit.strftime(_SQLITE_AT)
            cp_index += 1
        if latest_before is not None and (
            raw_at < limit_text
            if isinstance(raw_at, str) and len(raw_at) == 26
            else _utc(raw_at) < limit
        ):
            at = _utc(raw_at)
            report.add(
                "backdated",
                _(
                    "post %(entry)s: daterad %(at)s men numrerad efter kontrollpunkten "
                    "%(checkpoint)s, som slutade vid post %(end)s: posten har lagts till i "
                    "efterhand",
                    entry=entry_id,
                    at=_local(at),
                    checkpoint=_local(latest_before.created_at),
                    end=latest_before.entry,
                ),
                entry_id,
            )
        for checkpoint in at_entry.get(entry_id, ()) if at_entry else ():
            if checkpoint.hash != digest:
                report.add(
                    "rewrite",
                    _(
                        "post %(entry)s: hashen skiljer sig från kontrollpunkten %(at)s "
                        "(%(name)s); %(span)s har skrivits om och kedjan räknats om",
                        entry=entry_id,
                        at=_local(checkpoint.created_at),
                        name=checkpoint.name,
                        span=_span(last_good_checkpoint + 1, entry_id),
                    ),
                    entry_id,
                )
            else:
                last_good_checkpoint = entry_id
        if replay is not None:
            if object_type in replayed:
                replay.apply(entry_id, action, object_type, object_id, data)
            changes = data.get("changes")
            if isinstance(changes, dict) and isinstance(changes.get(DIGEST_KEY), dict):
                replay.digest(entry_id, changes[DIGEST_KEY])
        prev = digest
        if entry_id >= expected:
            expected = entry_id + 1
        last_id = entry_id

    report.checked = checked
    if last_id is not None:
        report.last_id, report.last_hash = last_id, prev
    last = last_id or 0
    for checkpoint in usable:
        if checkpoint.entry > last:
            report.add(
                "truncation",
                _(
                    "%(span)s saknas: kontrollpunkten %(at)s (%(name)s) visar att spåret nådde "
                    "post %(entry)s, nu slutar det vid post %(last)s",
                    span=_span(last + 1, checkpoint.entry),
                    at=_local(checkpoint.created_at),
                    name=checkpoint.name,
                    entry=checkpoint.entry,
                    last=last,
                ),
                last + 1,
            )
    if replay is not None:
        replay.compare(session)
    return report


def describe(report: TrailReport) -> Iterable[str]:
    for finding in report.findings:
        yield finding.message
    for kind, count in report.suppressed.items():
        yield _("… och %(count)s fynd till av slaget %(kind)s", count=count, kind=kind)
