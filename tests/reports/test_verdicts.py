"""One verdict per file, the same on the verify page and from `riskreg reports verify`.

Every crafted file starts from a report riskreg really signed and archived (certified by the
controller, co-signed by the approver): the exact file, a copy cut back to its first
revision, incremental updates of the content and of /Info (pyHanko's
IncrementalPdfFileWriter), appended bytes, one flipped byte, a zeroed co-signature, a cut-off
file, a file left by an interrupted signing and a look-alike signed with a foreign
certificate. The CLI's exit status and the page's badge must both say the verdict, and the
details beside it must not contradict it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from report_helpers import Pki, run_tool, sign_as_controller, signing_time

from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.reports import services
from riskreg.reports.models import Report
from riskreg.reports.verdict import EXIT_CODES, FileVerdict
from tests.conftest import login
from tests.reports.scenario import (
    Scenario,
    append_text_revision,
    approved_control,
    build,
    flip_byte_in_first_page,
    settings_for,
    sign_both,
    user,
)

LABELS = {
    FileVerdict.GENUINE: "Äkta, utfärdad av riskreg",
    FileVerdict.AWAITING_COSIGNATURE: "Väntar på medsignatur",
    FileVerdict.EARLIER_REVISION: "Tidigare version",
    FileVerdict.CHANGED: "Ändrad efter signeringen",
    FileVerdict.NOT_OURS: "Inte utfärdad av riskreg",
    FileVerdict.BROKEN: "Trasig",
    FileVerdict.UNSIGNED: "Osignerad",
}

#: Texts that must never reach a user: library exceptions and tracebacks.
LIBRARY_TEXT = ("Traceback", "asn1crypto", "Error parsing", "pyhanko", "EOF marker", "Exception")


# ---------------------------------------------------------------- crafting


def first_revision(content: bytes) -> bytes:
    """The file cut back to the end of its first signature's revision (co-signature gone)."""
    first = PdfFileReader(BytesIO(content)).embedded_regular_signatures[0]
    start, length = int(first.byte_range[2]), int(first.byte_range[3])
    return content[: start + length]


def update_info(content: bytes) -> bytes:
    """An incremental update that only rewrites the document information (/Info)."""
    writer = IncrementalPdfFileWriter(BytesIO(content))
    info = generic.DictionaryObject(
        {
            generic.NameObject("/Title"): generic.TextStringObject("Granskningsrapport, rättad"),
            generic.NameObject("/Author"): generic.TextStringObject("Någon annan"),
        }
    )
    writer.trailer["/Info"] = writer.add_object(info)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def zero_last_signature(content: bytes) -> bytes:
    """Overwrite the last signature's /Contents (the CMS value) with zeros."""
    last = list(re.finditer(rb"/Contents\s*<([0-9a-fA-F]+)>", content))[-1]
    return content[: last.start(1)] + b"0" * (last.end(1) - last.start(1)) + content[last.end(1) :]


def orphan_from_interrupted_signing(app: Flask, scenario: Scenario) -> bytes:
    """What a crash between writing the file and committing leaves: a file, no row."""
    with app.app_context():
        report = services.sign_review(
            db.session,
            approved_control(db.session, scenario),
            actor=user(db.session, scenario.controller),
            now=now_utc(),
            settings=settings_for(app),
        )
        path = settings_for(app).store().path(report.certified_file)
        db.session.rollback()
        content = path.read_bytes()
    return content


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    verdict: FileVerdict
    says: tuple[str, ...]


def crafted_cases(app: Flask, scenario: Scenario, foreign_pki: Pki) -> tuple[Report, list[Case]]:
    report_id = sign_both(app, scenario)
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report is not None and report.final_file is not None
        db.session.expunge(report)
        store = settings_for(app).store()
        final = store.path(report.final_file).read_bytes()
        certified = store.path(report.certified_file).read_bytes()
    ref = report.reference
    cut = first_revision(final)
    assert cut == certified  # cutting the co-signature off gives the once-signed file back
    unsigned_start = final[: final.index(b"%%EOF") + len(b"%%EOF\n")]
    foreign = sign_as_controller(unsigned_start, foreign_pki, signing_time())
    orphan = orphan_from_interrupted_signing(app, build(app, title="Utbetalningar, andra halvåret"))
    cases = [
        Case("exact", final, FileVerdict.GENUINE, (f"medsignerade rapporten {ref}",)),
        Case(
            "first revision",
            cut,
            FileVerdict.EARLIER_REVISION,
            (f"tidigare version av rapporten {ref}", f"rapporten är {ref}; begär den filen"),
        ),
        Case(
            "content update",
            append_text_revision(final),
            FileVerdict.CHANGED,
            ("otillåtet sätt", f"bygger på rapporten {ref}"),
        ),
        Case(
            "/Info update",
            update_info(final),
            FileVerdict.CHANGED,
            ("efter den sista signaturen har något lagts till", f"bygger på rapporten {ref}"),
        ),
        Case(
            "appended bytes",
            final + b"\n% ett tillagt stycke\n",
            FileVerdict.CHANGED,
            ("efter den sista signaturen", f"bygger på rapporten {ref}"),
        ),
        Case(
            "one byte flipped",
            flip_byte_in_first_page(final),
            FileVerdict.CHANGED,
            ("hashvärdet stämmer inte",),
        ),
        Case(
            "zeroed co-signature",
            zero_last_signature(final),
            FileVerdict.BROKEN,
            ("går inte att läsa", f"bygger på rapporten {ref}"),
        ),
        Case(
            "cut off",
            final[: len(final) * 2 // 3],
            FileVerdict.BROKEN,
            ("skadad eller avkortad",),
        ),
        Case(
            "untrusted self-signed",
            foreign,
            FileVerdict.NOT_OURS,
            ("certifikat som riskreg inte litar på",),
        ),
        Case(
            "orphan of a crash",
            orphan,
            FileVerdict.NOT_OURS,
            ("organisationens nyckel", "avbruten signering"),
        ),
        Case(
            "unsigned",
            unsigned_start,
            FileVerdict.UNSIGNED,
            ("saknar digitala signaturer",),
        ),
    ]
    return report, cases


# ---------------------------------------------------------------- the CLI and the page


def cli_verify(app: Flask, content: bytes, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "kontroll.pdf"
    path.write_bytes(content)
    result = app.test_cli_runner().invoke(args=["reports", "verify", str(path)])
    return result.exit_code, result.output


def page_verify(client: FlaskClient, content: bytes) -> str:
    response = client.post(
        "/reports/verify",
        data={"file": (io.BytesIO(content), "kontroll.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def result_section(page: str) -> str:
    start = page.index('data-testid="verify-result"')
    return page[start : page.index("</section>", start)]


def test_one_verdict_per_crafted_file_on_page_and_cli(
    app: Flask,
    demo: dict[str, str],
    scenario: Scenario,
    foreign_pki: Pki,
    poppler: Callable[[str], str],
    tmp_path: Path,
) -> None:
    _report, cases = crafted_cases(app, scenario, foreign_pki)
    client = app.test_client()
    assert login(client, "revisor", demo["revisor"]).status_code == 302
    for case in cases:
        code, output = cli_verify(app, case.content, tmp_path)
        assert code == EXIT_CODES[case.verdict], (case.name, output)
        assert output.startswith("Resultat: "), (case.name, output)
        for text in case.says:
            assert text in output, (case.name, text, output)
        for text in LIBRARY_TEXT:
            assert text not in output, (case.name, text, output)

        section = result_section(page_verify(client, case.content))
        assert f'data-verdict="{case.verdict.value}"' in section, case.name
        badge = re.search(r'<span class="badge ([^"]+)" data-testid="verdict">([^<]+)<', section)
        assert badge is not None, case.name
        assert badge.group(2) == LABELS[case.verdict], case.name
        # No green badge beside a red sentence, and no red detail beside a green badge.
        assert (badge.group(1) == "text-bg-success") == (case.verdict is FileVerdict.GENUINE)
        if case.verdict is FileVerdict.GENUINE:
            assert "<strong>" not in section, case.name
        for text in case.says:
            assert text in section, (case.name, text)
        for text in LIBRARY_TEXT:
            assert text not in section, (case.name, text)

    # poppler alone calls the /Info-updated copy valid; riskreg says it was changed.
    info_case = next(case for case in cases if case.name == "/Info update")
    path = tmp_path / "info.pdf"
    path.write_bytes(info_case.content)
    assert run_tool(poppler("pdfsig"), str(path)).count("Signature is Valid.") == 2


def test_flipped_byte_rows_do_not_call_the_signature_valid(
    app: Flask, demo: dict[str, str], scenario: Scenario
) -> None:
    """The old table said "Giltig: Ja" beside "ogiltig"; now each row says what changed."""
    report_id = sign_both(app, scenario)
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report is not None and report.final_file is not None
        final = settings_for(app).store().path(report.final_file).read_bytes()
    client = app.test_client()
    assert login(client, "revisor", demo["revisor"]).status_code == 302
    section = result_section(page_verify(client, flip_byte_in_first_page(final)))
    cells = re.findall(r'data-testid="signature-content">(.*?)</td>', section)
    assert cells == ["<strong>Ändrat</strong>", "<strong>Ändrat</strong>"]
    assert "Giltig" not in section and "giltig." not in section


def test_once_signed_report_waits_for_its_cosignature(
    app: Flask, demo: dict[str, str], scenario: Scenario, tmp_path: Path
) -> None:
    with app.app_context():
        report = services.sign_review(
            db.session,
            approved_control(db.session, scenario),
            actor=user(db.session, scenario.controller),
            now=now_utc(),
            settings=settings_for(app),
        )
        db.session.commit()
        content = settings_for(app).store().path(report.certified_file).read_bytes()
        reference = report.reference
    code, output = cli_verify(app, content, tmp_path)
    assert code == EXIT_CODES[FileVerdict.AWAITING_COSIGNATURE] == 6
    assert f"Filen är rapporten {reference}" in output and "medsignaturen saknas" in output


def test_exit_codes_are_distinct_and_documented(app: Flask) -> None:
    assert EXIT_CODES[FileVerdict.GENUINE] == 0
    codes = [code for verdict, code in EXIT_CODES.items() if verdict is not FileVerdict.GENUINE]
    assert len(set(codes)) == len(codes) and 0 not in codes and 1 not in codes
    result = app.test_cli_runner().invoke(args=["reports", "verify", "--help"])
    for code in EXIT_CODES.values():
        assert re.search(rf"^\s+{code}\s+\S", result.output, flags=re.MULTILINE), code


def test_real_cli_prints_no_library_traceback_for_a_foreign_certificate(
    review_data: object, foreign_pki: Pki, tmp_path: Path
) -> None:
    """The installed `riskreg` command, in its own process: pyHanko logs certificate-path
    failures with tracebacks on stderr unless the command keeps them out."""
    import os
    import subprocess
    import sys

    from riskreg.reports.pdf import build_review_report

    riskreg = str(Path(sys.executable).parent / "riskreg")
    foreign = sign_as_controller(build_review_report(review_data), foreign_pki, signing_time())
    path = tmp_path / "främmande.pdf"
    path.write_bytes(foreign)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKREG_")}
    env["RISKREG_INSTANCE_PATH"] = str(tmp_path / "instance")
    env["RISKREG_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    for args in (["db", "upgrade"], ["keys", "init"]):
        subprocess.run([riskreg, *args], env=env, check=True, capture_output=True)
    result = subprocess.run(
        [riskreg, "reports", "verify", str(path)], env=env, capture_output=True, text=True
    )
    assert result.returncode == EXIT_CODES[FileVerdict.NOT_OURS], result.stderr
    assert result.stdout.startswith("Resultat: inte utfärdad av riskreg")
    assert result.stderr == ""
