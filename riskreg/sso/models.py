"""The server-side half of a single sign-on session: the IdP's tokens, never in the cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from riskreg.db import Base, now_utc


class SsoSession(Base):
    """One browser's sign-on through the identity provider.

    The Flask session is a signed, readable cookie: the refresh token (which Entra ID honours
    for other resources too) and the ID token stay here, and the cookie carries only ``id``.
    Not audited row by row: the tokens are secrets and change at every check; sign-on,
    refusal and logout each write their own audit entry.
    """

    __tablename__ = "sso_session"
    __audit__ = False

    # A random, unguessable key (secrets.token_urlsafe(32)).
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    # Sent back as id_token_hint on logout (RP-initiated logout).
    id_token: Mapped[str] = mapped_column(Text)
    # When the IdP last confirmed that the user may still sign in.
    checked_at: Mapped[datetime] = mapped_column(default=now_utc)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
