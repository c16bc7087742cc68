"""Reusable reasons for the desk's decisions ("the scores ignore the prompt"): add and remove."""
from __future__ import annotations

from ..models import ReasonTemplate
from .errors import InvalidInput

MAX_REASON = ReasonTemplate._meta.get_field("text").max_length


def reason_template_add(*, text: str, user) -> ReasonTemplate:
    """Add a reason (an existing identical one is kept, not doubled)."""
    text = (text or "").strip()
    if not text or len(text) > MAX_REASON:
        raise InvalidInput(f"a reason needs 1 to {MAX_REASON} characters")
    template, _ = ReasonTemplate.objects.get_or_create(text=text, defaults={"created_by": user})
    return template


def reason_template_remove(*, template_id) -> int:
    """Remove a reason; an unknown id removes nothing. Returns how many were removed."""
    try:
        pk = int(template_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"unknown reason {template_id!r}") from None
    return ReasonTemplate.objects.filter(pk=pk).delete()[0]
