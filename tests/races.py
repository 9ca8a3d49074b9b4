"""Parallel requests for the race tests: N signed-in clients send one request at the same time.

Each thread has its own test client (its own session cookie) and its own application and
request context, so on PostgreSQL every request runs in its own transaction on its own
connection, as gunicorn workers' requests would. A barrier releases them together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from riskreg.extensions import db
from tests.conftest import TEST_PASSWORD, login

PARALLEL = 20


def on_postgresql(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def signed_in_clients(
    app: Flask, username: str, count: int = PARALLEL, password: str = TEST_PASSWORD
) -> list[FlaskClient]:
    clients = []
    for _ in range(count):
        client = app.test_client()
        assert login(client, username, password).status_code == 302
        clients.append(client)
    return clients


def at_once(clients: list[FlaskClient], send: Callable[[FlaskClient], Any]) -> list[Any]:
    """Send ``send(client)`` from every client at the same moment; the responses, in order.

    A response is never lost: an exception in a thread fails the test with that exception.
    """
    barrier = threading.Barrier(len(clients))
    responses: list[Any] = [None] * len(clients)
    errors: list[BaseException] = []

    def run(index: int, client: FlaskClient) -> None:
        try:
            barrier.wait(timeout=60)
            responses[index] = send(client)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert all(r is not None for r in responses)
    return responses


def statuses(responses: list[Any]) -> list[int]:
    return sorted(r.status_code for r in responses)



def one_won_the_rest_were_told(
    app: Flask, responses: list[Any], message: str, *, won: int = 302
) -> None:
    """Exactly one request did it; every other one got ``message`` on the page (200).

    SQLite has no row locks: there a loser may instead meet the database's own rule (one
    current draw, a unique token) and get the conflict page (409). Never a 500.
    """
    codes = [r.status_code for r in responses]
    assert codes.count(won) == 1, codes
    for response in responses:
        if response.status_code == won:
            continue
        page = response.get_data(as_text=True)
        if response.status_code == 409 and not on_postgresql(app):
            assert "Någon annan sparade samma sak samtidigt" in page
        else:
            assert response.status_code == 200 and message in page, (response.status_code, page)
