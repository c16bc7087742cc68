"""Skip and flag on the rating page, the annotator's session counter, and the admins' flagged-items queue.

What an annotator sends and gets back never tells a golden item from a regular one: a skip answers with
the batch's progress only, the same for every item.
"""

from __future__ import annotations

from datetime import timedelta

from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput
from core.permissions import IsAdmin, IsAnnotator

from ..selectors.annotate import rating_session
from ..selectors.flags import flagged_items
from ..services.campaigns import campaign_get
from ..services.flags import SKIP_REASONS, flags_resolve, task_skip

SESSION_WINDOW = timedelta(hours=48)  # "today" is at most this long ago (a local midnight in any time zone)


class SkipApi(APIView):
    permission_classes = [IsAnnotator]

    class Input(serializers.Serializer):
        reason = serializers.ChoiceField(choices=SKIP_REASONS, help_text="'skip' (cannot judge it) or a flag reason.")
        note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)

    @extend_schema(
        request=Input,
        responses={
            200: inline_serializer(
                "SkipOutput",
                {
                    "status": serializers.CharField(),
                    "batch": inline_serializer(
                        "SkipBatch",
                        {
                            "id": serializers.IntegerField(),
                            "status": serializers.CharField(),
                            "progress": serializers.DictField(),
                        },
                    ),
                },
            ),
            404: OpenApiResponse(description="Not your task."),
            409: OpenApiResponse(description="Already rated or skipped."),
            410: OpenApiResponse(description="Lease ended."),
        },
    )
    def post(self, request, task_id: int):
        """Skip a task of your batch, or flag its item (broken, unsafe, prompt missing, other + a note): the item
        leaves your pool; a flag reaches the admins."""
        data = self.Input(data=request.data if isinstance(request.data, dict) else {})
        data.is_valid(raise_exception=True)
        return Response(task_skip(task_id=task_id, user=request.user, **data.validated_data))


class SessionApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(
        parameters=[OpenApiParameter("since", str, description="ISO time: the browser's local midnight.")],
        responses=inline_serializer(
            "SessionOutput",
            {
                "rated": serializers.IntegerField(),
                "median_ms": serializers.IntegerField(allow_null=True),
                "since": serializers.DateTimeField(),
            },
        ),
    )
    def get(self, request, slug: str):
        """Your ratings in the campaign since `since` (default: the last 24 hours) and their median time."""
        campaign = campaign_get(slug=slug)
        now = timezone.now()
        raw = request.query_params.get("since")
        since = parse_datetime(raw) if raw else now - timedelta(hours=24)
        if since is None or timezone.is_naive(since) or not now - SESSION_WINDOW <= since <= now:
            raise InvalidInput("since must be an ISO time with a zone within the last 48 hours")
        out = rating_session(user=request.user, campaign=campaign, since=since)
        return Response({**out, "since": serializers.DateTimeField().to_representation(out["since"])})


class FlagListApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        parameters=[OpenApiParameter("campaign", str)],
        responses=inline_serializer(
            "FlaggedItem",
            {
                "item": serializers.IntegerField(),
                "item_id": serializers.CharField(),
                "campaign": serializers.CharField(),
                "flags": serializers.ListField(child=serializers.DictField()),
            },
            many=True,
        ),
    )
    def get(self, request):
        """Items with open flags, most flagged first (admins)."""
        rows = flagged_items(campaign_slug=request.query_params.get("campaign") or None)
        return Response(
            [
                {
                    "item": r["item"].pk,
                    "item_id": r["item"].item_id,
                    "campaign": r["item"].campaign.slug,
                    "is_golden": r["item"].is_golden,
                    "flags": [
                        {
                            "reason": f.reason,
                            "note": f.note,
                            "annotator": f.annotator.username,
                            "created_at": serializers.DateTimeField().to_representation(f.created_at),
                        }
                        for f in r["flags"]
                    ],
                }
                for r in rows
            ]
        )


class FlagResolveApi(APIView):
    permission_classes = [IsAdmin]

    class Input(serializers.Serializer):
        # a plain string (checked by the service): a choice field here would clash with Batch.decision's enum
        decision = serializers.CharField(help_text="'dismiss' (the item is fine) or 'retire' (no more ratings).")

    @extend_schema(
        request=Input,
        responses=inline_serializer(
            "FlagResolveOutput",
            {"item": serializers.CharField(), "decision": serializers.CharField(), "flags": serializers.IntegerField()},
        ),
    )
    def post(self, request, item_id: int):
        """Dismiss an item's open flags (it is fine) or retire the item (no more ratings)."""
        data = self.Input(data=request.data if isinstance(request.data, dict) else {})
        if not data.is_valid():
            raise InvalidInput("decision must be 'dismiss' or 'retire'")
        return Response(flags_resolve(item_id=item_id, user=request.user, **data.validated_data))


urlpatterns = [
    path("tasks/<int:task_id>/skip/", SkipApi.as_view(), name="api-task-skip"),
    path("campaigns/<slug:slug>/session/", SessionApi.as_view(), name="api-rating-session"),
    path("flags/", FlagListApi.as_view(), name="api-flags"),
    path("items/<int:item_id>/flags/resolve/", FlagResolveApi.as_view(), name="api-flags-resolve"),
]
