"""Text as markup declares it, made plain: entities decoded (twice-encoded ones too), whitespace
collapsed (pure)."""

from __future__ import annotations

from html import unescape


def clean(value: str | None) -> str | None:
    """Entities decoded (twice-encoded ones too), whitespace collapsed."""
    if value is None:
        return None
    text = " ".join(unescape(unescape(value)).split())
    return text or None
