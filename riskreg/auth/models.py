"""Users, roles and organisational units."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from riskreg.db import Base, now_utc


class Role(StrEnum):
    ADMIN = "admin"
    CONTROLLER = "controller"
    UNIT_MEMBER = "unit_member"
    APPROVER = "approver"
    AUDITOR = "auditor"


user_units = Table(
    "user_unit",
    Base.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True),
)


class Unit(Base):
    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    email: Mapped[str | None] = mapped_column(String(254))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    version: Mapped[int] = mapped_column(default=1)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent", order_by="Unit.code")
    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])
    members: Mapped[list[User]] = relationship(
        secondary=user_units, back_populates="units", order_by="User.username"
    )

    __mapper_args__ = {"version_id_col": version}

    def descendants_and_self(self) -> list[Unit]:
        found: list[Unit] = [self]
        stack = list(self.children)
        while stack:
            unit = stack.pop()
            if unit in found:  # a cycle would otherwise loop forever
                continue
            found.append(unit)
            stack.extend(unit.children)
        return found

    def __str__(self) -> str:
        return self.code


class User(UserMixin, Base):
    __tablename__ = "user"
    __table_args__ = (UniqueConstraint("email"),)
    __audit_redact__ = frozenset({"password_hash"})
    # Unit membership decides what a user may read: the trail records it (riskreg/audit/trail.py).
    __audit_collections__ = ("units",)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(String(5), default="sv")
    # Bumped on password change so every other session of the user is logged out.
    session_epoch: Mapped[int] = mapped_column(default=1)
    # The identity provider's stable subject ("sub") for users who sign on through it
    # (riskreg/sso); None for local accounts.
    sso_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    version: Mapped[int] = mapped_column(default=1)

    units: Mapped[list[Unit]] = relationship(
        secondary=user_units, back_populates="members", order_by="Unit.code"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def scoped_unit_ids(self) -> set[int]:
        """The user's units and every unit below them."""
        return {unit.id for own in self.units for unit in own.descendants_and_self()}

    def __str__(self) -> str:
        return self.full_name or self.username
