"""Helpers shared by the signing and verification tests."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from report_samples import APPROVER, CONTROLLER, PASSPHRASE, STOCKHOLM

from riskreg.reports.keys import load_pem_certificates
from riskreg.reports.pdf import signature_box
from riskreg.reports.signing import sign_pdf


@dataclass(frozen=True)
class Pki:
    """A dev PKI made by ``create_dev_pki``: the PKCS#12 and the CA certificate."""

    p12: Path
    ca: Path

    @property
    def roots(self) -> list[x509.Certificate]:
        return load_pem_certificates(self.ca)


def signing_time(minutes_ago: int = 0) -> datetime:
    """A signing time inside the fresh dev certificate's validity, to the minute."""
    now = datetime.now(STOCKHOLM).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes_ago)


def sign_as_controller(pdf: bytes, pki: Pki, signed_at: datetime) -> bytes:
    return sign_pdf(
        pdf,
        pkcs12_path=pki.p12,
        passphrase=PASSPHRASE,
        signer_name=CONTROLLER.name,
        signer_role="granskare",
        signed_at=signed_at,
        field_name=CONTROLLER.field_name,
        certify=True,
        box=signature_box(0),
        reserve_fields={APPROVER.field_name: signature_box(1)},
    )


def sign_as_approver(pdf: bytes, pki: Pki, signed_at: datetime) -> bytes:
    return sign_pdf(
        pdf,
        pkcs12_path=pki.p12,
        passphrase=PASSPHRASE,
        signer_name=APPROVER.name,
        signer_role="godkännare",
        signed_at=signed_at,
        field_name=APPROVER.field_name,
        certify=False,
        box=signature_box(1),
    )


@dataclass(frozen=True)
class SignedReport:
    """The review report at each stage, with the times used to sign it."""

    unsigned: bytes
    certified: bytes
    cosigned: bytes
    controller_time: datetime
    approver_time: datetime


def run_tool(tool: str, *args: str) -> str:
    """Run a poppler tool and return stdout (pdfsig exits non-zero for untrusted certs)."""
    result = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
    return result.stdout


def pdftotext(poppler: Callable[[str], str], pdf: bytes, tmp_path: Path, *pages: int) -> str:
    """Text of ``pdf`` (optionally first/last page) as poppler extracts it, layout kept."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    args = [poppler("pdftotext"), "-layout"]
    if pages:
        args += ["-f", str(pages[0]), "-l", str(pages[-1])]
    return subprocess.run(
        [*args, str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def page_count(pdf: bytes) -> int:
    return len(list(PdfFileReader(BytesIO(pdf)).root["/Pages"]["/Kids"]))


def squash(value: str) -> str:
    """Collapse whitespace: wrapped table cells come out of pdftotext on several lines."""
    return re.sub(r"\s+", " ", value)
