"""Reads of accounts for admins: users with their roles and whether they are paused."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch, QuerySet

from core.errors import NotFound
from core.roles import ROLES


def users_with_roles() -> QuerySet:
    """Every account by username, each with `role_groups` (its role groups) and its annotator profile loaded
    (three queries a page)."""
    return (
        get_user_model()
        .objects.select_related("annotator_profile")
        .prefetch_related(Prefetch("groups", queryset=Group.objects.filter(name__in=ROLES), to_attr="role_groups"))
        .order_by("username")
    )


def user_get(*, user_id) -> Any:
    """The account with this id, or NotFound (404) naming it."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user
