"""Keyset pagination, sorting and filters from query arguments, shared by every list page.

A region holds tens of thousands of controls and actions (issue 15): no page may load them all.
An OFFSET page still makes the database walk every row before it, so the long lists page by
*keyset*: the next page starts after the sort key of the last row shown, ``(key…, id)``, which
an index answers directly whatever page the user is on. The cursor is that key, encoded in the
``after`` (or ``before``, going back) query argument; a tampered cursor only restarts the list.

A list declares its sort orders as :class:`Sort` (a label and its key expressions, none of them
NULL: wrap a nullable column in ``coalesce``), calls :func:`keyset_page` with its filtered
``select`` and renders ``templates/_macros/paging.html``, whose links keep the filters.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

T = TypeVar("T")

PAGE_SIZE = 50


@dataclass(frozen=True)
class Sort:
    """One way to order a list: its label and its key, most significant first.

    The last key must make the order total (an id); ``descending`` applies to every key.
    """

    label: str
    keys: tuple[Any, ...]
    descending: bool = False


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    sort: str
    descending: bool = False
    #: Query arguments of the list (filters and sort) that every page link keeps.
    args: dict[str, str] = field(default_factory=dict)
    next_cursor: str | None = None
    prev_cursor: str | None = None
    #: The page is not the first one (a "first page" link is offered).
    paged: bool = False

    @property
    def first_args(self) -> dict[str, str]:
        return dict(self.args)

    @property
    def next_args(self) -> dict[str, str] | None:
        return None if self.next_cursor is None else {**self.args, "after": self.next_cursor}

    @property
    def prev_args(self) -> dict[str, str] | None:
        return None if self.prev_cursor is None else {**self.args, "before": self.prev_cursor}

    def sort_args(self, sort: str) -> dict[str, str]:
        """The first page of the same filters in another order (column header links)."""
        return {**self.args, "sort": sort}


def contains_text(column: Any, text: str) -> ColumnElement[bool]:
    """The text filter of a list: case-insensitive substring match, on SQLite and PostgreSQL
    alike; LIKE's wildcards typed by the user match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped.lower()}%", escape="\\")


def text_arg(args: Mapping[str, str], name: str = "q") -> str | None:
    return (args.get(name) or "").strip()[:200] or None


# --- cursors ----------------------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    raise TypeError(f"cannot page by {type(value).__name__}")


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if tag == "t" and isinstance(text, str):
            return datetime.fromisoformat(text)
        if tag == "d" and isinstance(text, str):
            return date.fromisoformat(text)
        raise ValueError("bad cursor value")
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    raise ValueError("bad cursor value")


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str | None, width: int) -> list[Any] | None:
    """The key values of a cursor, or None for a missing or malformed one."""
    if not text or len(text) > 2000:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != width:
            return None
        return [_decode_value(v) for v in values]
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        return None


def _beyond(keys: Sequence[Any], values: Sequence[Any], forward: bool) -> ColumnElement[bool]:
    """Rows after (``forward``) or before the key ``values`` in ascending key order."""
    alternatives = []
    for i, key in enumerate(keys):
        equal = [k == v for k, v in zip(keys[:i], values[:i], strict=True)]
        step = key > values[i] if forward else key < values[i]
        alternatives.append(and_(*equal, step))
    return or_(*alternatives)


# --- the page ---------------------------------------------------------------------------------


def pick_sort(sorts: Mapping[str, Sort], requested: str | None, default: str) -> str:
    return requested if requested is not None and requested in sorts else default


def keyset_page(
    session: Session,
    query: Select[Any],
    sorts: Mapping[str, Sort],
    args: Mapping[str, str],
    *,
    default_sort: str,
    list_args: Mapping[str, str],
    size: int = PAGE_SIZE,
    count: bool = True,
) -> Page[Any]:
    """One page of ``query`` (a filtered ``select`` of one entity) in the requested order.

    ``args`` are the request's query arguments (``sort``, ``after``, ``before``);
    ``list_args`` the filter arguments the page links must keep. Runs two statements: the
    count (unless ``count`` is False) and the page itself, one row more than shown to know
    whether another page follows.
    """
    sort_name = pick_sort(sorts, args.get("sort"), default_sort)
    sort = sorts[sort_name]
    keys = list(sort.keys)
    total = (
        session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        if count
        else -1
    )
    after = decode_cursor(args.get("after"), len(keys))
    before = None if after is not None else decode_cursor(args.get("before"), len(keys))
    # Going back reads the rows before the cursor in reverse order, then turns them round.
    forward = before is None
    ascending = forward != sort.descending
    cursor = after if after is not None else before
    # Labelled: a key may repeat a column of the entity (plan.year), which would be ambiguous.
    paged = query.add_columns(*(key.label(f"page_key_{i}") for i, key in enumerate(keys)))
    if cursor is not None:
        paged = paged.where(_beyond(keys, cursor, ascending))
    paged = paged.order_by(None).order_by(*(k.asc() if ascending else k.desc() for k in keys))
    rows = list(session.execute(paged.limit(size + 1)).unique().all())
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    items = [row[0] for row in rows]
    first_key = list(rows[0][1:]) if rows else None
    last_key = list(rows[-1][1:]) if rows else None
    kept = {k: v for k, v in list_args.items() if v}
    if sort_name != default_sort:
        kept["sort"] = sort_name
    page: Page[Any] = Page(
        items=items, total=total, sort=sort_name, descending=sort.descending, args=kept
    )
    if forward:
        page.next_cursor = encode_cursor(last_key) if more and last_key else None
        page.prev_cursor = encode_cursor(first_key) if cursor is not None and first_key else None
    else:
        page.prev_cursor = encode_cursor(first_key) if more and first_key else None
        page.next_cursor = encode_cursor(last_key) if last_key else None
    page.paged = cursor is not None
    return page
