"""Pages and exports are never kept by a browser or proxy (issue 16, part 7)."""

from __future__ import annotations

from flask import Flask

from tests.conftest import login


def test_pages_and_exports_say_no_store_static_files_may_cache(app: Flask, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("ik", "admin")
    make_user("revisor", "auditor")
    anonymous = app.test_client()
    assert anonymous.get("/login").headers["Cache-Control"] == "no-store"
    admin = app.test_client()
    login(admin, "ik")
    for path in ("/", "/admin/users", "/plans/"):
        response = admin.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    auditor = app.test_client()
    login(auditor, "revisor")
    for path in ("/audit/export.csv", "/audit/export.xlsx"):
        response = auditor.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    static = anonymous.get("/static/css/riskreg.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()
