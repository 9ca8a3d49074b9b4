"""Where an item lives in the web UI, and its title as a reminder shows it."""

from __future__ import annotations

TITLE_MAX = 160

# --- paths ------------------------------------------------------------------------------------


def control_path(control_id: int) -> str:
    return f"/controls/{control_id}"


def action_path(action_id: int) -> str:
    return f"/controls/actions/{action_id}"


def short_title(text: str, limit: int = TITLE_MAX) -> str:
    """The first line of a description, cut at ``limit`` characters (for lists and e-mail)."""
    first = " ".join((text or "").strip().splitlines()[0].split()) if (text or "").strip() else ""
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
