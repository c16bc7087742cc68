"""Who may open a page: one decorator for every server-rendered view.

Anonymous visitors go to the login page (and come back after logging in); a logged-in user without one
of the roles gets the styled 403 page with the reason given here (frontend/errors.py renders it), so a
person knows whom to ask. The API has its own permission classes (core/permissions.py) on the
same roles.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from core.roles import ADMIN, ANNOTATOR, EXPERT, RESEARCHER, user_has_role


def role_required(*roles: str, message: str) -> Callable:
    """`@role_required(ADMIN, message="The approval desk is for admins.")` on a view function.
    With no roles any logged-in user may open the page."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if roles and not user_has_role(request.user, *roles):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        wrapper.required_roles = roles  # type: ignore[attr-defined]  # read by tests and the navigation
        return wrapper

    return decorator


# The four audiences of the frontend. Admins count as every staff role, as in the API.
signed_in = role_required(message="Log in first.")
rater_required = role_required(ANNOTATOR, EXPERT, ADMIN, message="Rating is for annotators, experts and admins.")
expert_required = role_required(EXPERT, ADMIN, message="Expert mode is for users with the expert role.")
admin_required = role_required(ADMIN, message="This page is for admins.")
researcher_required = role_required(RESEARCHER, ADMIN, message="This page is for researchers and admins.")

__all__ = ["admin_required", "expert_required", "rater_required", "researcher_required", "role_required", "signed_in"]
