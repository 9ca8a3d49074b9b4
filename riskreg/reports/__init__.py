"""Signed review reports: report data, PDF rendering, dev PKI, PAdES signing and verification.

Modules:

* :mod:`.data` – frozen dataclasses the application fills in (no ORM, no Flask).
* :mod:`.pdf` – ``build_review_report`` / ``build_followup_report`` → PDF bytes.
* :mod:`.keys` – ``create_dev_pki`` for a development CA and organisational signing key.
* :mod:`.signing` – ``sign_pdf``: PAdES certification and co-signature.
* :mod:`.verify` – ``verify_pdf``: what an auditor needs to know about each signature.

The application around them:

* :mod:`.models` – ``Report``: one row per signed report version, files under instance/.
* :mod:`.assemble` – database objects → report data (evaluation, traffic lights, heat map).
* :mod:`.services` – signing flow, write-once storage, verification against the database,
  export; :mod:`.xlsx` – the follow-up as a workbook.
* :mod:`.views`, :mod:`.forms`, :mod:`.cli` (``riskreg keys``, ``riskreg reports``),
  :mod:`.demo`.

Nothing is re-exported here so that importing the data classes does not pull in ReportLab or
pyHanko.
"""
