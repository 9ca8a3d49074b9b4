from __future__ import annotations

from flask import Blueprint

bp = Blueprint("controls", __name__, url_prefix="/controls")
