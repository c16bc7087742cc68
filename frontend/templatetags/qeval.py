"""Template filters of the frontend: words for stored codes (never a raw `needs_review` on a page)."""

from django import template

from annotation.models import Batch

register = template.Library()
_DECISIONS = dict(Batch.Decision.choices)


@register.filter
def decision_label(value: str) -> str:
    """'needs_review' -> 'Needs review'; anything else (an account state in the audit trail) as it is."""
    return _DECISIONS.get(value, (value or "").replace("_", " "))
