"""API of how a campaign spends its ratings: the collection settings (overlap and selection policies)
and the live leaderboard of generators."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput
from core.permissions import IsResearcher

from ..services.campaigns import campaign_get, campaign_update
from ..services.leaderboard import leaderboard
from ..services.overlap import overlap_summary

COLLECTION_SETTINGS = (
    "overlap_policy",
    "ratings_per_image",
    "ratings_per_video",
    "min_ratings_per_image",
    "min_ratings_per_video",
    "max_ratings_per_item",
    "overlap_ci_target",
    "selection_policy",
)


class CollectionSettingsApi(APIView):
    """How many ratings items get, and which items batches take first (services/overlap.py, selection.py)."""

    permission_classes = [IsResearcher]

    class Settings(serializers.Serializer):
        overlap_policy = serializers.ChoiceField(choices=["fixed", "adaptive"])
        ratings_per_image = serializers.IntegerField(min_value=1)
        ratings_per_video = serializers.IntegerField(min_value=1)
        min_ratings_per_image = serializers.IntegerField(min_value=1)
        min_ratings_per_video = serializers.IntegerField(min_value=1)
        max_ratings_per_item = serializers.IntegerField(min_value=1)
        overlap_ci_target = serializers.FloatField(min_value=0.01)
        selection_policy = serializers.ChoiceField(choices=["fullest", "value"])

    def _out(self, campaign) -> dict:
        return {**{k: getattr(campaign, k) for k in COLLECTION_SETTINGS}, "items": overlap_summary(campaign=campaign)}

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="A campaign's overlap and selection policies")
    def get(self, request, slug: str):
        return Response(self._out(campaign_get(slug=slug)))

    @extend_schema(
        request=Settings(partial=True),
        responses=OpenApiTypes.OBJECT,
        summary="Change the overlap or selection policy (items' targets follow at once)",
    )
    def patch(self, request, slug: str):
        campaign = campaign_get(slug=slug)
        if not isinstance(request.data, dict) or not request.data:
            raise InvalidInput('send a JSON object with the settings to change, e.g. {"overlap_policy": "adaptive"}')
        unknown = sorted(set(request.data) - set(COLLECTION_SETTINGS))
        if unknown:
            raise InvalidInput(
                f"not a collection setting: {', '.join(unknown)} (settings: {', '.join(COLLECTION_SETTINGS)})"
            )
        data = self.Settings(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(self._out(campaign_update(campaign=campaign, **data.validated_data)))


class LeaderboardApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        summary="Generators ranked by MOS per dimension and media type, with intervals, live",
    )
    def get(self, request, slug: str):
        return Response(leaderboard(campaign=campaign_get(slug=slug)))


urlpatterns = [
    path("campaigns/<slug:slug>/collection-settings/", CollectionSettingsApi.as_view(), name="api-collection-settings"),
    path("campaigns/<slug:slug>/leaderboard/", LeaderboardApi.as_view(), name="api-leaderboard"),
]
