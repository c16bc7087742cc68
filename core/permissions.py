"""DRF permission classes built on roles."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from .roles import ABOVE_ANNOTATOR, ADMIN, ANNOTATOR, EXPERT, RESEARCHER, user_has_role


class RolePermission(BasePermission):
    allowed_roles: tuple[str, ...] = ()  # core/api/lean.py checks the same roles outside DRF


def role_permission(*roles: str) -> type[RolePermission]:
    class _HasRole(RolePermission):
        message = f"This needs one of the roles: {', '.join(roles)}."
        allowed_roles = roles

        def has_permission(self, request, view) -> bool:
            return user_has_role(request.user, *roles)

    _HasRole.__name__ = "Has" + "Or".join(r.title() for r in roles)
    return _HasRole


IsAnnotator = role_permission(ANNOTATOR, EXPERT, ADMIN)
IsExpert = role_permission(EXPERT, ADMIN)
IsAdmin = role_permission(ADMIN)
IsResearcher = role_permission(RESEARCHER, ADMIN)
IsStaffRole = role_permission(*ABOVE_ANNOTATOR)
