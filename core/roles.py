"""Roles are Django groups with model permissions. Superusers count as every role.

- annotator: rates items in batches.
- expert: also rates golden items (their ratings become golden scores).
- admin: approves/rejects batches, pauses annotators, sees golden scores and MOS.
- researcher: imports content, aggregates MOS, exports data, launches training.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ANNOTATOR, EXPERT, ADMIN, RESEARCHER = "annotator", "expert", "admin", "researcher"
ROLES = (ANNOTATOR, EXPERT, ADMIN, RESEARCHER)
# Roles that may see content without holding a lease on it.
ABOVE_ANNOTATOR = (EXPERT, ADMIN, RESEARCHER)

# codename prefixes per model, by role (app label `annotation` unless dotted).
ROLE_PERMISSIONS: dict[str, list[str]] = {
    ANNOTATOR: ["view_campaign", "add_rating", "view_batch"],
    EXPERT: ["view_campaign", "add_rating", "view_batch", "view_item", "add_goldenscore", "view_goldenscore"],
    ADMIN: [
        "view_campaign",
        "add_campaign",
        "change_campaign",
        "view_itemflag",
        "change_itemflag",
        "view_item",
        "view_batch",
        "change_batch",
        "view_rating",
        "view_goldenscore",
        "change_goldenscore",
        "view_annotatorprofile",
        "change_annotatorprofile",
        "view_datasetversion",
        "view_itemscore",
        "view_annotatorstat",
        "view_job",
    ],
    RESEARCHER: [
        "view_campaign",
        "add_campaign",
        "change_campaign",
        "view_item",
        "add_item",
        "view_generator",
        "view_prompt",
        "view_datasetversion",
        "add_datasetversion",
        "view_itemscore",
        "view_annotatorstat",
        "view_goldenscore",
        "add_goldenscore",
        "view_job",
        "add_job",
    ],
}


def roles_sync() -> None:
    """Create the four groups and give them their permissions (idempotent; run after migrate)."""
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = Permission.objects.filter(content_type__app_label="annotation", codename__in=codenames)
        group.permissions.set(perms)


def user_roles(user) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    if user.is_superuser:
        return set(ROLES)
    cached = getattr(user, "_qeval_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._qeval_roles = cached
    return cached


def user_has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))
