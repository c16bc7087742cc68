"""Accounts and roles."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from core.errors import InvalidInput
from core.roles import ROLES, roles_sync

from ..models import AnnotatorProfile

User = get_user_model()


@transaction.atomic
def user_add(*, username: str, role: str, password: str | None = None, vendor: bool = False) -> AbstractUser:
    """Create (or update the role and password of) a user. Without a password the account cannot log in
    with one (vendor accounts from import_ratings, or token-only API users)."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if not username or len(username) > 150 or not all(c.isalnum() or c in "@.+-_" for c in username):
        raise InvalidInput(f"invalid username {username!r}: use letters, digits and @.+-_ (at most 150)")
    if password is not None and len(password) < 8:
        raise InvalidInput("password too short: use at least 8 characters")
    roles_sync()
    user, created = User.objects.get_or_create(username=username)
    if password is not None:
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    user.is_staff = role == "admin" or user.is_staff  # admins may use the Django admin
    user.save()
    user.groups.add(Group.objects.get(name=role))
    AnnotatorProfile.objects.get_or_create(user=user, defaults={"is_vendor": vendor})
    return user


def user_token(*, user) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
