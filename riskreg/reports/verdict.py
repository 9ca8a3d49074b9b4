"""One verdict per verified file, the same on the page and in the CLI.

:func:`riskreg.reports.verify.verify_pdf` says what each signature in a file proves on its
own. An auditor needs one answer for the file: is this the report riskreg issued? The rule
(also in ``docs/security.md``), checked in this order:

1. **broken** – the file cannot be read as a PDF.
2. **genuine** – the file is byte for byte (SHA-256) the final, co-signed report riskreg
   archived. Nothing else is genuine: not a re-saved copy, not a copy with bytes appended.
3. **earlier revision** – the file is exactly an earlier stage of one of riskreg's reports,
   e.g. the final report cut back to its first revision (the co-signature stripped); the
   verdict names the final report to ask for. While the report still waits for its
   co-signature, the once-signed file is **awaiting co-signature** instead.
4. **broken** – a signature in it cannot be read or its signature value does not verify
   (a damaged or forged signature, e.g. zeroed /Contents).
5. **changed** – anything changed after signing: a signature whose signed bytes no longer
   hash to the signed value, a later revision with changes the certification does not allow,
   anything after the last signature (an incremental update of the content or of /Info,
   appended bytes), or a signature added by someone else to a riskreg report. When a
   signature's revision is one of riskreg's files, the verdict names that report.
6. **unsigned** – no signature at all.
7. **not ours** – every signature is intact and covers the file, but riskreg has no record of
   the file: signed with someone else's certificate, or with the organisation's key but never
   archived (e.g. a file left by an interrupted signing).

The details shown beside the verdict (:attr:`FileVerification.signatures`, one entry per
signature, in signing order) are facts about each signature; the verdict is the only
judgment, so the page never shows a green badge beside a red sentence. Further
per-signature details (who signed, whether the certificate was theirs) slot into that list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _
from riskreg.reports.verify import SignatureReport, VerificationReport

__all__ = [
    "EXIT_CODES",
    "ArchivedFile",
    "FileVerdict",
    "FileVerification",
    "judge",
]


class FileVerdict(StrEnum):
    GENUINE = "genuine"
    AWAITING_COSIGNATURE = "awaiting_cosignature"
    EARLIER_REVISION = "earlier_revision"
    CHANGED = "changed"
    NOT_OURS = "not_ours"
    BROKEN = "broken"
    UNSIGNED = "unsigned"


#: The verdict in a few words (the badge, the CLI's "Resultat:"); translated by ``label``.
VERDICT_LABELS: dict[FileVerdict, str] = {
    FileVerdict.GENUINE: N_("äkta, utfärdad av riskreg"),
    FileVerdict.AWAITING_COSIGNATURE: N_("väntar på medsignatur"),
    FileVerdict.EARLIER_REVISION: N_("tidigare version"),
    FileVerdict.CHANGED: N_("ändrad efter signeringen"),
    FileVerdict.NOT_OURS: N_("inte utfärdad av riskreg"),
    FileVerdict.BROKEN: N_("trasig"),
    FileVerdict.UNSIGNED: N_("osignerad"),
}

#: Exit status of ``riskreg reports verify``: 0 only for a genuine report. 1 is left for
#: errors before any verdict (no such file, not a PDF at all).
EXIT_CODES: dict[FileVerdict, int] = {
    FileVerdict.GENUINE: 0,
    FileVerdict.CHANGED: 2,
    FileVerdict.NOT_OURS: 3,
    FileVerdict.BROKEN: 4,
    FileVerdict.EARLIER_REVISION: 5,
    FileVerdict.AWAITING_COSIGNATURE: 6,
    FileVerdict.UNSIGNED: 7,
}


@dataclass(frozen=True)
class ArchivedFile:
    """What riskreg's archive knows about a file with a given SHA-256.

    ``stage`` is ``"final"`` (the co-signed report) or ``"certified"`` (the once-signed
    stage). ``final_reference`` is set when the report has a final file (so an earlier
    stage can point to it); ``superseded_by`` names a newer version of the report, made
    after the control was reopened and approved again.
    """

    reference: str
    stage: str
    report_id: int
    final_reference: str | None = None
    superseded_by: str | None = None
    #: The review was reopened after this report: it stays genuine, but is superseded.
    reopened: bool = False


Lookup = Callable[[str], ArchivedFile | None]


@dataclass(frozen=True)
class FileVerification:
    """The verdict on one file, its explanation and the per-signature details."""

    verdict: FileVerdict
    headline: str
    details: tuple[str, ...]
    sha256: str
    signatures: tuple[SignatureReport, ...]
    unsigned_fields: tuple[str, ...]
    archived: ArchivedFile | None
    """The archived report the file is, or (for a changed file) comes from."""

    @property
    def ok(self) -> bool:
        return self.verdict is FileVerdict.GENUINE

    @property
    def label(self) -> str:
        return _(VERDICT_LABELS[self.verdict])

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


def judge(result: VerificationReport, lookup: Lookup) -> FileVerification:
    """Apply the rule in the module docstring to ``result``; ``lookup`` finds archived files."""
    signatures = result.signatures
    details = [m for s in signatures for m in s.messages]
    details += [
        _("Signaturfältet %(name)s är inte signerat.", name=name) for name in result.unsigned_fields
    ]

    def verdict(
        kind: FileVerdict, headline: str, archived: ArchivedFile | None = None
    ) -> FileVerification:
        return FileVerification(
            kind,
            headline,
            tuple(details),
            result.sha256,
            signatures,
            result.unsigned_fields,
            archived,
        )

    if not result.readable:
        return verdict(
            FileVerdict.BROKEN,
            _(
                "Filen går inte att läsa som en PDF: den är skadad eller avkortad. "
                "Den kan inte godtas som en rapport från riskreg."
            ),
        )
    exact = lookup(result.sha256)
    origin = _origin(signatures, lookup)
    if exact is not None and exact.stage == "final":
        return verdict(FileVerdict.GENUINE, _genuine_headline(exact), exact)
    if exact is not None:
        if exact.final_reference:
            return verdict(
                FileVerdict.EARLIER_REVISION,
                _(
                    "Filen är en tidigare version av rapporten %(reference)s: den är signerad "
                    "av granskaren men saknar medsignaturen. Den slutliga, medsignerade "
                    "rapporten är %(final)s; begär den filen.",
                    reference=exact.reference,
                    final=exact.final_reference,
                ),
                exact,
            )
        return verdict(
            FileVerdict.AWAITING_COSIGNATURE,
            _(
                "Filen är rapporten %(reference)s som riskreg har utfärdat, signerad av den "
                "första signeraren; medsignaturen saknas ännu. Den är inte en slutlig rapport.",
                reference=exact.reference,
            ),
            exact,
        )
    broken = [s for s in signatures if not s.readable or (s.intact and not s.valid)]
    if broken:
        return verdict(FileVerdict.BROKEN, _broken_headline(broken, origin), origin)
    if not signatures:
        return verdict(
            FileVerdict.UNSIGNED,
            _("Filen saknar digitala signaturer; den är inte en signerad rapport från riskreg."),
        )
    changed = _changed_reason(signatures, origin)
    if changed is not None:
        return verdict(FileVerdict.CHANGED, changed, origin)
    if all(s.trusted for s in signatures):
        headline = _(
            "Signaturerna är oförändrade och gjorda med organisationens nyckel, men filen är "
            "inte en rapport som riskreg har arkiverat (ingen lagrad rapport har samma "
            "SHA-256). Den kan vara kvar efter en avbruten signering; den är inte en rapport "
            "från riskreg."
        )
    else:
        headline = _(
            "Signaturerna är oförändrade, men filen är inte en rapport som riskreg har "
            "utfärdat: den är signerad med ett certifikat som riskreg inte litar på, och "
            "ingen lagrad rapport har samma SHA-256."
        )
    return verdict(FileVerdict.NOT_OURS, headline)


def _origin(signatures: Sequence[SignatureReport], lookup: Lookup) -> ArchivedFile | None:
    """The newest archived riskreg file that one of the signatures' revisions is."""
    for signature in reversed(signatures):
        if signature.revision_sha256:
            found = lookup(signature.revision_sha256)
            if found is not None:
                return found
    return None


def _final_of(origin: ArchivedFile) -> str:
    return origin.final_reference or origin.reference


def _from_ours(origin: ArchivedFile | None) -> str:
    if origin is None:
        return ""
    return " " + _(
        "Filen bygger på rapporten %(reference)s från riskreg; den oförändrade rapporten är "
        "%(final)s.",
        reference=origin.reference,
        final=_final_of(origin),
    )


def _broken_headline(broken: Sequence[SignatureReport], origin: ArchivedFile | None) -> str:
    who = ", ".join(s.signer_name or s.field_name for s in broken)
    return (
        _(
            "Filen är trasig: signaturen av %(who)s går inte att läsa eller verifiera "
            "(signaturvärdet är skadat eller ändrat). Den kan inte godtas.",
            who=who,
        )
        + _from_ours(origin)
    )


def _genuine_headline(exact: ArchivedFile) -> str:
    headline = _(
        "Filen är exakt den slutliga, medsignerade rapporten %(reference)s som riskreg "
        "har utfärdat och arkiverat (SHA-256 stämmer).",
        reference=exact.reference,
    )
    if exact.superseded_by:
        headline += " " + _(
            "Granskningen har senare öppnats igen; den gällande rapporten är %(current)s.",
            current=exact.superseded_by,
        )
    elif exact.reopened:
        headline += " " + _(
            "Granskningen har öppnats igen efter signeringen; rapporten är ersatt och en ny "
            "version skapas när granskningen godkänns på nytt."
        )
    return headline


def _changed_reason(
    signatures: Sequence[SignatureReport], origin: ArchivedFile | None
) -> str | None:
    """Why the file counts as changed after signing, or None if nothing was changed."""
    suffix = _from_ours(origin)
    if any(not s.intact for s in signatures):
        return (
            _(
                "Filen har ändrats efter signeringen: det signerade innehållet stämmer inte "
                "längre med signaturen (hashvärdet stämmer inte)."
            )
            + suffix
        )
    if any(s.docmdp_ok is not True for s in signatures[:-1]) or (signatures[-1].docmdp_ok is False):
        return (
            _(
                "Filen har ändrats efter signeringen: en senare version av filen innehåller "
                "ändringar som signaturen inte tillåter (otillåtet sätt)."
            )
            + suffix
        )
    if not signatures[-1].covers_whole_document:
        return (
            _(
                "Filen har ändrats efter signeringen: efter den sista signaturen har något "
                "lagts till (en ny version av innehållet eller av dokumentinformationen, eller "
                "data i slutet av filen)."
            )
            + suffix
        )
    if origin is not None:
        last = signatures[-1]
        return (
            _(
                "Filen har ändrats efter signeringen: signaturen av %(who)s har lagts till "
                "efter riskregs signatur och är inte en signatur som riskreg har arkiverat.",
                who=last.signer_name or last.field_name,
            )
            + suffix
        )
    return None
