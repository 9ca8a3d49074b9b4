"""No user text is ever rendered unescaped.

Hostile text is written straight into every text column of risks, plans, units, users and the
risk matrix (as an import, another feature or a database console could put it there, past any
form validation), then every page is fetched: none may contain the markup raw. A grep-style
test keeps `|safe`, `Markup(` and friends out of the code, so escaping stays automatic.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from flask import Flask
from sqlalchemy import select

from riskreg import PROJECT_ROOT
from riskreg.audit.context import acting
from riskreg.auth.models import Unit, User
from riskreg.extensions import db
from riskreg.plans.models import Organisation, PlanAmendment, Risk, RiskAssessment
from riskreg.risks.matrix import load_matrix, save_matrix
from tests.conftest import login
from tests.test_permissions import EXPECTED, _ids

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
SVG = "'><svg onload=alert(3)>"
TEMPLATE = "{{7*7}}<i>x</i>"
JS_URL = "javascript:alert(4)"
PAYLOADS = (SCRIPT, IMG, SVG, TEMPLATE)
RAW_MARKERS = ("<script>alert", "<img src=x", "<svg onload", "<i>x</i>")


def _plant(app: Flask) -> dict[str, int]:
    """Hostile text in every text field; returns the ids of the objects that carry it."""
    with app.app_context(), acting(actor_name=SVG, ip="192.0.2.1", reason=SCRIPT):
        risk = db.session.scalar(select(Risk).order_by(Risk.id))
        risk.title, risk.review_area, risk.regulation, risk.method = PAYLOADS
        plan = risk.plan
        plan.decision_body, plan.decision_paragraph, plan.diary_number = SCRIPT, SVG, IMG
        organisation = db.session.scalar(select(Organisation))
        organisation.name = TEMPLATE + SCRIPT
        unit = risk.responsible_unit
        unit.code, unit.name, unit.email = SCRIPT, IMG, JS_URL
        other = db.session.scalar(select(User).where(User.username == "ce"))
        other.username, other.full_name, other.email = SVG, SCRIPT, IMG + "@example.org"
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        admin.full_name = IMG
        db.session.add(
            RiskAssessment(
                risk=risk,
                old_probability=1,
                old_consequence=1,
                new_probability=2,
                new_consequence=2,
                reason=SCRIPT,
                changed_by=other,
            )
        )
        db.session.add(PlanAmendment(plan=plan, risk_id=risk.id, summary=IMG, reason=SVG))
        matrix = load_matrix(db.session)
        save_matrix(
            db.session,
            replace(
                matrix,
                levels=tuple(replace(level, name=SCRIPT) for level in matrix.levels),
                probability_labels=dict.fromkeys(matrix.probability_labels, IMG),
                consequence_labels=dict.fromkeys(matrix.consequence_labels, SVG),
            ),
        )
        db.session.commit()
        return {"risk": risk.id, "plan": plan.id, "unit": unit.id, "user": other.id}


def _pages(ids: dict[str, int], planted: dict[str, int]) -> list[str]:
    urls = [
        builder(ids)
        for endpoint, (method, builder, _roles) in EXPECTED.items()
        if method == "GET" and endpoint != "static"
    ]
    urls += [
        f"/risks/{planted['risk']}",
        f"/risks/{planted['risk']}/edit",
        f"/plans/{planted['plan']}",
        f"/risks/?plan={planted['plan']}",
        f"/risks/?q={quote(SCRIPT)}",
        f"/risks/heatmap?plan={planted['plan']}",
        f"/admin/units/{planted['unit']}/edit",
        f"/admin/users/{planted['user']}/edit",
        "/audit/",
        f"/audit/?user={quote(SVG)}&object={quote(IMG)}",
        f"/login?next={quote(IMG)}",
    ]
    return urls


def test_hostile_text_in_every_field_is_escaped_on_every_page(
    app: Flask, demo: dict[str, str]
) -> None:
    ids = _ids(app)  # the matrix finds its demo objects by name: look before renaming them
    planted = _plant(app)
    client = app.test_client()
    assert login(client, "admin", demo["admin"]).status_code == 302
    problems = []
    shown_escaped = set()
    for url in _pages(ids, planted):
        response = client.get(url)
        html = response.get_data(as_text=True) if response.mimetype == "text/html" else None
        response.close()  # file downloads keep their file open until closed
        if response.status_code >= 500:
            problems.append(f"{url}: {response.status_code}")
        if html is None:
            continue
        for marker in RAW_MARKERS:
            if marker in html:
                problems.append(f"{url}: raw {marker!r}")
        if 'href="javascript:' in html.lower():
            problems.append(f"{url}: javascript: link")
        if "&lt;script&gt;alert(1)&lt;/script&gt;" in html:
            shown_escaped.add(url)
        if "{{7*7}}" in html:
            shown_escaped.add("template-literal")
    assert not problems, "\n".join(problems)
    # The text is shown (escaped), not dropped: on the object pages and the trail.
    for must_show in (f"/risks/{planted['risk']}", f"/plans/{planted['plan']}", "/audit/"):
        assert must_show in shown_escaped, must_show
    assert "template-literal" in shown_escaped  # {{7*7}} printed as text, never evaluated


def test_a_unit_member_sees_hostile_text_escaped_too(app: Flask, demo: dict[str, str]) -> None:
    planted = _plant(app)
    with app.app_context():
        smitt = db.session.scalar(select(Unit).where(Unit.code == "Smittskydd"))
        risk = db.session.get(Risk, planted["risk"])
        risk.responsible_unit_id = smitt.id
        db.session.commit()
    client = app.test_client()
    login(client, "smittskydd", demo["smittskydd"])
    for url in ("/", "/risks/", f"/risks/{planted['risk']}", f"/plans/{planted['plan']}"):
        html = client.get(url).get_data(as_text=True)
        assert not [m for m in RAW_MARKERS if m in html], url


# --- no way around autoescaping in the code -----------------------------------------------------

TEMPLATE_FORBIDDEN = re.compile(
    r"\|\s*safe\b|autoescape\s+false|\bMarkup\b|\|\s*(?:e|escape)\s*\(\s*false", re.IGNORECASE
)
PYTHON_FORBIDDEN = re.compile(
    r"\bMarkup\s*\(|render_template_string\s*\(|autoescape\s*=\s*False|"
    r"jinja2\.Template\s*\(|__html__\s*\("
)
#: "path: line substring" of reviewed exceptions (none so far). Add with a reason, never a
#: user-controlled value.
REVIEWED: frozenset[str] = frozenset()


def _offending(root: Path, pattern: re.Pattern[str], glob: str) -> list[str]:
    found = []
    for path in sorted(root.rglob(glob)):
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), start=1):
            if pattern.search(line):
                where = f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
                if not any(where.startswith(r.split(":", 1)[0]) and r.split(":", 1)[1].strip()
                           in line for r in REVIEWED):
                    found.append(where)
    return found


def test_templates_never_switch_escaping_off() -> None:
    offending = _offending(PROJECT_ROOT / "riskreg" / "templates", TEMPLATE_FORBIDDEN, "*.html")
    assert not offending, "\n".join(offending)


def test_python_never_builds_unescaped_markup() -> None:
    offending = _offending(PROJECT_ROOT / "riskreg", PYTHON_FORBIDDEN, "*.py")
    assert not offending, "\n".join(offending)


def test_the_app_autoescapes_html_templates(app: Flask) -> None:
    from flask import render_template_string

    assert app.select_jinja_autoescape("risks/show.html")
    assert app.select_jinja_autoescape("audit/_history.html")
    with app.test_request_context():
        escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
        assert render_template_string("{{ v }}", v=SCRIPT) == escaped
