"""Signed review reports: report data, PDF rendering, dev PKI, PAdES signing and verification.

Modules:

* :mod:`.data` – frozen dataclasses the application fills in (no ORM, no Flask).
* :mod:`.pdf` – ``build_review_report`` / ``build_followup_report`` → PDF bytes.
* :mod:`.keys` – ``create_dev_pki`` for a development CA and organisational signing key.
* :mod:`.signing` – ``sign_pdf``: PAdES certification and co-signature.
* :mod:`.verify` – ``verify_pdf``: what an auditor needs to know about each signature.

Nothing is re-exported here so that importing the data classes does not pull in ReportLab or
pyHanko.
"""
