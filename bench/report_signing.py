"""Benchmark: generate and double-sign the review report of a 400-item review.

Run from the repository root::

    .venv/bin/python -m bench.report_signing            # 400 items, 5 rounds
    .venv/bin/python -m bench.report_signing --items 1000 --rounds 3

It builds an approved control with a population, a 400-item draw and results in a throw-away
SQLite database (``tests.reports.scenario``, the same scenario the tests use), creates a dev
PKI, and measures in the same process, round after round:

* **baseline** – ReportLab alone: ``build_review_report`` on the already assembled report
  data (the same content as the signed report);
* **end to end** – what the two signing requests do through the service: load the control's
  objects, assemble, render, certify (controller) and store, then co-sign (approver) and
  store, with the database flushes;
* the parts of the end-to-end path on their own: load + assemble, render, certify, co-sign.

Medians are printed with the ratio to the baseline, as a Markdown table for BENCHMARKS.md.
The first signature in a fresh process is reported separately: it pays one-off costs (fonts
are loaded and the stamp font rescaled, SciPy imported) that later requests do not.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from riskreg import create_app
    from riskreg.auth.models import User
    from riskreg.controls.models import Control
    from riskreg.db import now_utc
    from riskreg.demo import load_demo
    from riskreg.extensions import db
    from riskreg.reports import assemble, services
    from riskreg.reports.pdf import build_review_report, signature_box
    from riskreg.reports.signing import sign_pdf
    from tests.reports.scenario import build_approved_control

    workdir = Path(tempfile.mkdtemp(prefix="riskreg-bench-"))
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "SECRET_KEY": "bench",
        },
        instance_path=workdir,
    )
    with app.app_context():
        db.create_all()
        now = now_utc()
        load_demo(db.session(), now=now)
        scenario = build_approved_control(
            db.session(), now=now, items=args.items, population=max(2000, args.items * 5)
        )
        db.session.commit()
        settings = services.SigningSettings.from_config(app.config, app.instance_path)
        services.ensure_dev_keys(settings.pkcs12_path.parent, "Region Västmanland")
        settings = services.SigningSettings.from_config(app.config, app.instance_path)

        def user(name: str) -> User:
            found = db.session.scalar(select(User).where(User.username == name))
            assert found is not None
            return found

        controller, approver = user("granskare"), user("chef")

        def control() -> Control:
            found = db.session.get(Control, scenario.control_id)
            assert found is not None
            return found

        def end_to_end() -> None:
            report = services.sign_review(
                db.session(), control(), actor=controller, now=now_utc(), settings=settings
            )
            services.cosign_report(
                db.session(),
                report,
                actor=approver,
                now=now_utc() + timedelta(seconds=1),
                settings=settings,
            )
            db.session.flush()

        first, _ = _timed(end_to_end)
        db.session.rollback()

        def assembled() -> Any:
            return assemble.review_report(
                services.load_review_inputs(db.session(), control()),
                reference="GR-BENCH",
                organisation="Region Västmanland",
                controller=services._signer(controller),
                approver=services._signer(approver),
                generated_at=now_utc(),
                tz=settings.timezone,
            )

        def sign(pdf: bytes, certify: bool) -> bytes:
            return sign_pdf(
                pdf,
                pkcs12_path=settings.pkcs12_path,
                passphrase=settings.passphrase or b"",
                signer_name=(controller if certify else approver).full_name,
                signer_role="granskare" if certify else "godkännare",
                signed_at=now_utc().astimezone(settings.timezone),
                field_name=assemble.CONTROLLER_FIELD if certify else assemble.COSIGNER_FIELD,
                certify=certify,
                box=signature_box(0 if certify else 1),
                reserve_fields={assemble.COSIGNER_FIELD: signature_box(1)} if certify else None,
            )

        times: dict[str, list[float]] = {
            "baseline": [],
            "end_to_end": [],
            "assemble": [],
            "render": [],
            "certify": [],
            "cosign": [],
        }
        pages = size = 0
        for _round in range(args.rounds):
            seconds, data = _timed(assembled)
            times["assemble"].append(seconds)
            seconds, pdf = _timed(partial(build_review_report, data))
            times["baseline"].append(seconds)
            times["render"].append(seconds)
            seconds, certified = _timed(partial(sign, pdf, True))
            times["certify"].append(seconds)
            seconds, final = _timed(partial(sign, certified, False))
            times["cosign"].append(seconds)
            db.session.expire_all()
            seconds, _ = _timed(end_to_end)
            times["end_to_end"].append(seconds)
            db.session.rollback()  # the next round signs the same approval again
            pages = pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page")
            size = len(final)
        db.session.remove()
        db.engine.dispose()

    median = {key: statistics.median(values) for key, values in times.items()}
    base = median["baseline"]
    rows = [
        ("Baseline: ReportLab alone (render the same report data)", "baseline"),
        ("End to end: load, assemble, render, certify + store, co-sign + store", "end_to_end"),
        ("  load the control's objects and assemble", "assemble"),
        ("  render (ReportLab)", "render"),
        ("  certify (controller's PAdES signature, visible stamp)", "certify"),
        ("  co-sign (approver's PAdES signature, visible stamp)", "cosign"),
    ]
    print(
        f"Review report, {args.items} sampled items, ~{pages} pages, {size / 1024:.0f} KiB "
        f"signed; {args.rounds} rounds, median; Python {platform.python_version()}, "
        f"{platform.machine()}"
    )
    print()
    print("| step | median | × baseline |")
    print("|---|---:|---:|")
    for label, key in rows:
        print(f"| {label} | {median[key] * 1000:.0f} ms | {median[key] / base:.2f} |")
    print()
    print(f"First end-to-end signing in a fresh process (one-off costs): {first * 1000:.0f} ms")


if __name__ == "__main__":
    main()
