"""Fixtures for the report tests: report data, poppler tools, temporary folders."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from report_samples import make_followup_report, make_review_report

from riskreg.reports.data import FollowupReport, ReviewReport


@pytest.fixture(scope="session")
def review_data() -> ReviewReport:
    return make_review_report()


@pytest.fixture(scope="session")
def followup_data() -> FollowupReport:
    return make_followup_report()


@pytest.fixture(scope="session")
def poppler() -> Callable[[str], str]:
    """Path of a poppler tool; skips if poppler-utils is missing."""

    def find(tool: str) -> str:
        path = shutil.which(tool)
        if path is None:
            pytest.skip(f"{tool} (poppler-utils) is not installed")
        return path

    return find


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")
