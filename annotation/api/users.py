"""Accounts, for admins: who exists, their roles, whether they are paused."""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.views import APIView

from core.permissions import IsAdmin
from core.roles import ROLES

from ..selectors.users import users_with_roles


class UserListApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema_serializer(component_name="UserSummary")
    class Output(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        roles = serializers.SerializerMethodField()
        paused = serializers.SerializerMethodField()
        paused_reason = serializers.SerializerMethodField()
        is_active = serializers.BooleanField()

        def get_roles(self, user) -> list[str]:
            if user.is_superuser:
                return list(ROLES)
            return sorted(g.name for g in user.role_groups)

        def _profile(self, user):
            return getattr(user, "annotator_profile", None)

        def get_paused(self, user) -> bool:
            profile = self._profile(user)
            return bool(profile and profile.is_paused)

        def get_paused_reason(self, user) -> str:
            profile = self._profile(user)
            return profile.paused_reason if profile else ""

    @extend_schema(
        responses=inline_serializer(
            "PaginatedUsers",
            {
                "count": serializers.IntegerField(),
                "next": serializers.CharField(allow_null=True),
                "previous": serializers.CharField(allow_null=True),
                "results": Output(many=True),
            },
        )
    )
    def get(self, request):
        """All accounts, paginated (limit/offset), by username."""
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(users_with_roles(), request, view=self)
        return paginator.get_paginated_response(self.Output(page, many=True).data)


urlpatterns = [path("users/", UserListApi.as_view(), name="api-user-list")]
