"""The password hash: documented parameters, rehash on login, equal cost for unknown users."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY
from flask import Flask
from sqlalchemy import select

from riskreg.audit.models import AuditEntry
from riskreg.auth import passwords
from riskreg.auth.models import User
from riskreg.extensions import db
from tests.conftest import TEST_PASSWORD, login


def test_production_parameters_are_the_documented_ones() -> None:
    # docs/security.md: argon2id, m = 19 MiB, t = 2, p = 1 (OWASP), stored in the hash itself.
    hashed = passwords.production_hasher().hash("ett lösenord som duger")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.production_hasher().verify(hashed, "ett lösenord som duger")


class _CountingHasher(PasswordHasher):
    """The tests' cheap hasher, counting verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verifications = 0
        self.hashes = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verifications += 1
        return super().verify(hash, password)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashes += 1
        return super().hash(password, salt=salt)


@pytest.fixture()
def counting() -> Iterator[_CountingHasher]:
    previous = passwords._hasher
    passwords._hasher = hasher = _CountingHasher()
    yield hasher
    passwords._hasher = previous


def _stored_hash(app: Flask, username: str) -> str:
    with app.app_context():
        return db.session.scalars(select(User.password_hash).where(User.username == username)).one()


def test_old_parameter_hash_is_rehashed_once_on_login(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("anna", "controller")
    # A hash as the old default made it (other parameters; cheap memory so the test is fast).
    old = PasswordHasher(time_cost=3, memory_cost=2048, parallelism=4).hash(TEST_PASSWORD)
    with app.app_context():
        stored = db.session.get(User, user.id)
        stored.password_hash = old
        db.session.commit()
        version = stored.version

    assert login(app.test_client(), "anna").status_code == 302
    first = _stored_hash(app, "anna")
    assert first != old
    assert not passwords.needs_rehash(first)
    assert passwords.verify_password(first, TEST_PASSWORD)

    assert login(app.test_client(), "anna").status_code == 302
    assert _stored_hash(app, "anna") == first  # the second login leaves it alone

    with app.app_context():
        # Not a form edit: the row version (optimistic locking) is unchanged, and the trail has
        # exactly one rehash entry, without the hash.
        assert db.session.get(User, user.id).version == version
        entries = list(
            db.session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "password_rehash", AuditEntry.object_id == str(user.id)
                )
            )
        )
        assert len(entries) == 1
        assert "argon2" not in entries[0].payload


def test_wrong_password_does_not_rehash(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("anna", "controller")
    old = PasswordHasher(time_cost=3, memory_cost=2048, parallelism=4).hash(TEST_PASSWORD)
    with app.app_context():
        db.session.get(User, user.id).password_hash = old
        db.session.commit()
    assert login(app.test_client(), "anna", "fel lösenord igen").status_code == 200
    assert _stored_hash(app, "anna") == old


def test_unknown_user_costs_one_verification_like_a_real_one(
    app: Flask,
    make_user,
    counting: _CountingHasher,  # type: ignore[no-untyped-def]
) -> None:
    make_user("anna", "controller")
    login(app.test_client(), "ingen-sådan", "fel lösenord 1")  # makes the dummy hash once
    for username in ("anna", "ingen-sådan", "ingen-annan"):
        before = counting.verifications, counting.hashes
        response = login(app.test_client(), username, "fel lösenord 2")
        assert response.status_code == 200
        assert (counting.verifications - before[0], counting.hashes - before[1]) == (1, 0), username


def test_dummy_hash_uses_the_current_parameters(counting: _CountingHasher) -> None:
    passwords.burn_verification_time("vad som helst")
    key = (counting.time_cost, counting.memory_cost, counting.parallelism, counting.type)
    assert passwords._DUMMY_HASHES[key].startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    # The old default parameters are not the production ones: those hashes get rehashed.
    old_default = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY).hash("x")
    passwords._hasher = passwords.production_hasher()
    try:
        assert passwords.needs_rehash(old_default)
    finally:
        passwords._hasher = counting
