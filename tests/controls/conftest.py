import pytest
from flask import Flask

from tests.conftest import load_demo_data


@pytest.fixture()
def demo(app: Flask) -> dict[str, str]:
    """The demo up to the controls step: every control still as the controls demo leaves it."""
    return load_demo_data(app, ("riskreg.controls.demo",))
