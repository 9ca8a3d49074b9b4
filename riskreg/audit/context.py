"""Who is acting, from where and why: set once per request or CLI command, read by the trail.

A context variable keeps services free of request objects while the flush listener still knows
the actor; CLI commands set the actor explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class AuditContext:
    actor_id: int | None = None
    actor_name: str = "system"
    ip: str | None = None
    reason: str | None = None


_DEFAULT = AuditContext()
_current: ContextVar[AuditContext | None] = ContextVar("riskreg_audit_context", default=None)


def current() -> AuditContext:
    return _current.get() or _DEFAULT


def set_context(context: AuditContext) -> None:
    _current.set(context)


@contextmanager
def acting(
    actor_id: int | None = None,
    actor_name: str | None = None,
    ip: str | None = None,
    reason: str | None = None,
) -> Iterator[AuditContext]:
    base = current()
    ctx = AuditContext(
        actor_id=actor_id if actor_id is not None else base.actor_id,
        actor_name=actor_name if actor_name is not None else base.actor_name,
        ip=ip if ip is not None else base.ip,
        reason=reason if reason is not None else base.reason,
    )
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


@contextmanager
def because(reason: str | None) -> Iterator[None]:
    """Attach a reason (e.g. a change after a plan was adopted) to the changes flushed inside."""
    token = _current.set(replace(current(), reason=reason))
    try:
        yield
    finally:
        _current.reset(token)
