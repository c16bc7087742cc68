"""Campaigns: creation and settings changes (which keep item targets in step)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, Value, When

from core.errors import Conflict, InvalidInput, NotFound
from core.sql import fast_sql_enabled, sql_models

from ..models import Campaign, Item, MediaType


def campaign_get(*, slug: str) -> Campaign:
    """The campaign with this slug, or NotFound with a message naming it (404 / exit 1)."""
    if fast_sql_enabled():  # every batch request starts here: a prepared lookup, not an ORM query
        found = sql_models(Campaign, "slug = %(s)s::text", {"s": slug})
        campaign = found[0] if found else None
    else:
        campaign = Campaign.objects.filter(slug=slug).first()
    if campaign is None:
        raise NotFound(f"campaign {slug!r} does not exist")
    return campaign


SETTABLE = {
    "name",
    "instructions",
    "anchors",
    "rate_quality",
    "rate_alignment",
    "ratings_per_image",
    "ratings_per_video",
    "batch_size",
    "golden_per_batch",
    "lease_minutes",
    "require_full_video",
    "expert_ratings_per_golden",
    "scrutiny_measure",
    "min_golden",
    "approve_threshold",
    "reject_threshold",
    "ci_width_threshold",
    "max_ratings_per_item",
    "is_active",
    "scrutiny_method",
    "golden_min_per_batch",
    "golden_max_per_batch",
    "approve_probability",
    "reject_probability",
    "overlap_policy",
    "min_ratings_per_image",
    "min_ratings_per_video",
    "selection_policy",
    "overlap_ci_target",
}
# The settings that decide batches (the admin QC endpoint shows and changes these).
QC_SETTINGS = (
    "scrutiny_method",
    "scrutiny_measure",
    "min_golden",
    "approve_threshold",
    "reject_threshold",
    "approve_probability",
    "reject_probability",
    "golden_per_batch",
    "golden_min_per_batch",
    "golden_max_per_batch",
    "expert_ratings_per_golden",
)


def campaign_validate(campaign: Campaign) -> None:
    """Every rule a campaign's settings must keep, with a message naming the setting. The command line,
    the API and the Django admin all call this, so a setting valid in one is valid in all."""
    try:
        # Field checks here; the constraints' rules are checked below with messages that name them.
        campaign.full_clean(validate_constraints=False, validate_unique=False)
    except ValidationError as exc:
        parts = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
        raise InvalidInput("; ".join(parts)) from None
    if not 0 <= campaign.reject_threshold <= campaign.approve_threshold <= 1:
        raise InvalidInput("thresholds must satisfy 0 <= reject_threshold <= approve_threshold <= 1")
    if not (campaign.rate_quality or campaign.rate_alignment):
        raise InvalidInput("a campaign must rate at least one dimension (quality or alignment)")
    for field in ("ratings_per_image", "ratings_per_video", "batch_size", "lease_minutes", "expert_ratings_per_golden"):
        if getattr(campaign, field) < 1:
            raise InvalidInput(f"{field} must be at least 1")
    if not 0 < campaign.reject_probability < campaign.approve_probability < 1:
        raise InvalidInput("probabilities must satisfy 0 < reject_probability < approve_probability < 1")
    if not 1 <= campaign.min_ratings_per_image <= campaign.max_ratings_per_item:
        raise InvalidInput("min_ratings_per_image must be between 1 and max_ratings_per_item")
    if not 1 <= campaign.min_ratings_per_video <= campaign.max_ratings_per_item:
        raise InvalidInput("min_ratings_per_video must be between 1 and max_ratings_per_item")
    if campaign.ci_width_threshold <= 0:
        raise InvalidInput("ci_width_threshold must be above 0 (the MOS interval half-width that is narrow enough)")
    if campaign.overlap_ci_target <= 0:
        raise InvalidInput("overlap_ci_target must be above 0 (the MOS interval half-width where an item stops)")
    if campaign.golden_per_batch > 0:
        if campaign.golden_min_per_batch < 1:
            raise InvalidInput("golden_min_per_batch must be at least 1: every batch keeps some golden items")
        if not campaign.golden_min_per_batch <= campaign.golden_per_batch <= campaign.golden_max_per_batch:
            raise InvalidInput(
                "golden items per batch must satisfy golden_min_per_batch <= golden_per_batch <= golden_max_per_batch"
            )
        if campaign.golden_max_per_batch >= campaign.batch_size + campaign.golden_per_batch:
            raise InvalidInput(
                "golden_max_per_batch must leave room for regular items: it must be below batch_size + golden_per_batch"
            )


@transaction.atomic
def campaign_create(*, slug: str, **fields: Any) -> Campaign:
    unknown = set(fields) - SETTABLE
    if unknown:
        raise InvalidInput(f"unknown campaign settings: {', '.join(sorted(unknown))}")
    if Campaign.objects.filter(slug=slug).exists():
        raise Conflict(f"campaign {slug!r} already exists")
    campaign = Campaign(slug=slug, name=fields.pop("name", None) or slug, **fields)
    _golden_range_defaults(campaign, given=fields)
    campaign_validate(campaign)
    campaign.save()
    return campaign


def _golden_range_defaults(campaign: Campaign, *, given: dict) -> None:
    """Golden items per batch under the calibrated method, where not given: from 40% to twice
    golden_per_batch (4-20 for the default 10), leaving at least one regular item per batch."""
    g = campaign.golden_per_batch
    if "golden_min_per_batch" not in given:
        campaign.golden_min_per_batch = max(1, round(0.4 * g)) if g else 0
    if "golden_max_per_batch" not in given:
        campaign.golden_max_per_batch = max(g, min(2 * g, campaign.batch_size + g - 1))


@transaction.atomic
def campaign_update(*, campaign: Campaign, **fields: Any) -> Campaign:
    unknown = set(fields) - SETTABLE
    if unknown:
        raise InvalidInput(f"unknown campaign settings: {', '.join(sorted(unknown))}")
    for key, value in fields.items():
        setattr(campaign, key, value)
    campaign_validate(campaign)
    campaign.save()
    campaign_targets_refresh(campaign=campaign, changed=set(fields))
    return campaign


TARGET_FIELDS = {
    "ratings_per_image",
    "ratings_per_video",
    "overlap_policy",
    "min_ratings_per_image",
    "min_ratings_per_video",
    "overlap_ci_target",
    "max_ratings_per_item",
    "selection_policy",
}


def campaign_targets_refresh(*, campaign: Campaign, changed: set[str]) -> None:
    """Keep items' targets and priorities in step with changed settings: the fixed targets, or under
    adaptive overlap (and value selection) each item decided again from its approved ratings."""
    if not TARGET_FIELDS & changed:
        return
    adaptive = campaign.overlap_policy == Campaign.Overlap.ADAPTIVE
    if not adaptive and {"ratings_per_image", "ratings_per_video", "overlap_policy"} & changed:
        items_retarget(campaign=campaign)
    if adaptive or "selection_policy" in changed:
        from .overlap import overlap_refresh

        overlap_refresh(campaign=campaign)


def items_retarget(*, campaign: Campaign) -> int:
    """Set every item's target from the campaign's per-media-type targets (one UPDATE).
    Extra ratings for uncertain items are granted again by the coverage service after this."""

    base = Case(
        When(media_type=MediaType.IMAGE, then=Value(campaign.ratings_per_image)),
        default=Value(campaign.ratings_per_video),
        output_field=IntegerField(),
    )
    return Item.objects.filter(campaign=campaign).update(target=base)
