"""Annotator API: ask for a batch, rate its tasks, keep its leases alive, finish it, see past batches
and one's standing.

What an annotator receives never tells a golden item from a regular one: no flag, no item id at all
(media comes through the task), positions shuffled together, the same batch size whatever the number
of golden items. Decisions are shown as approved / rejected / pending with a reason in plain words,
never with scrutiny figures, golden scores or which items were golden.
"""

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.lean import lean_view
from core.errors import Forbidden, InvalidInput
from core.permissions import IsAnnotator, IsExpert
from core.roles import ADMIN, user_has_role

from ..selectors.batches import annotator_batches, batch_list_row, batch_payload
from ..services.assignment import batch_get_for_user, batch_request
from ..services.campaigns import campaign_get
from ..services.golden import expert_batch_request
from ..services.leases import batch_finish, batch_heartbeat
from ..services.ratings import rating_submit
from ..services.standing import annotator_standing

# ------------------------------------------------------------------------------------- serializers


class ProgressOutput(serializers.Serializer):
    rated = serializers.IntegerField()
    total = serializers.IntegerField()


class TaskOutput(serializers.Serializer):
    id = serializers.IntegerField()
    media_url = serializers.CharField()
    thumbnail_url = serializers.CharField(allow_null=True)
    media_type = serializers.CharField()
    fps = serializers.FloatField(allow_null=True, help_text="Frames per second (videos).")
    prompt = serializers.CharField()
    dimensions = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField()
    lease_expires_at = serializers.DateTimeField()


class CampaignBrief(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    require_full_video = serializers.BooleanField()
    lease_minutes = serializers.IntegerField()


class BatchOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    decision = serializers.CharField()
    reason = serializers.CharField(help_text="The decision in plain words (empty while open or pending).")
    tasks = TaskOutput(many=True)
    progress = ProgressOutput()
    campaign = CampaignBrief()


class BatchListItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.CharField()
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    status = serializers.CharField()
    decision = serializers.CharField()
    reason = serializers.CharField()
    progress = ProgressOutput()


# ------------------------------------------------------------------------------------------- views


class BatchRequestApi(APIView):
    permission_classes = [IsAnnotator]

    class Input(serializers.Serializer):
        mode = serializers.ChoiceField(choices=["annotate", "expert"], default="annotate")

    @extend_schema(
        request=Input,
        responses={
            201: BatchOutput,
            200: BatchOutput,
            204: OpenApiResponse(description="No work left for you."),
            403: OpenApiResponse(description="Paused annotator or inactive campaign."),
            404: OpenApiResponse(description="Unknown campaign."),
        },
    )
    def post(self, request, slug: str):
        """Ask for a batch: 201 new, 200 your open batch (reload-safe), 204 nothing left for you."""
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data if isinstance(request.data, dict) else {})
        if not data.is_valid():
            raise InvalidInput("mode must be 'annotate' or 'expert'")
        if data.validated_data["mode"] == "expert":
            if not IsExpert().has_permission(request, self):
                raise Forbidden("expert mode needs the expert role")
            batch, created = expert_batch_request(campaign=campaign, user=request.user)
        else:
            batch, created = batch_request(campaign=campaign, user=request.user)
        status, payload = _batch_answer(batch, created, campaign)
        return Response(payload, status=status)


class BatchListApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(responses=BatchListItemOutput(many=True))
    def get(self, request):
        """The caller's own batches, newest first (paginated: ?limit=&offset=)."""
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(annotator_batches(user=request.user), request, view=self)
        rows = [batch_list_row(b) for b in page or []]
        return paginator.get_paginated_response(BatchListItemOutput(rows, many=True).data)


class BatchDetailApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(responses=BatchOutput)
    def get(self, request, batch_id: int):
        """A batch: status, decision (approved / rejected / pending), progress and tasks. Only your own
        (admins may see every batch)."""
        batch = batch_get_for_user(batch_id=batch_id, user=request.user, see_all=user_has_role(request.user, ADMIN))
        return Response(batch_payload(batch))


class BatchHeartbeatApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "HeartbeatOutput", {"lease_expires_at": serializers.DateTimeField(allow_null=True)}
        ),
    )
    def post(self, request, batch_id: int):
        """Extend the live leases of your open batch (call it while the annotator is active)."""
        expires = batch_heartbeat(batch_id=batch_id, user=request.user)
        return Response(
            {"lease_expires_at": serializers.DateTimeField().to_representation(expires) if expires else None}
        )


class BatchFinishApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(request=None, responses=BatchOutput)
    def post(self, request, batch_id: int):
        """Finish your open batch early: its unrated tasks go back to the pool and the batch closes."""
        batch = batch_finish(batch_id=batch_id, user=request.user)
        return Response(batch_payload(batch))


class RatingSubmitApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(
        request=inline_serializer(
            "RatingInput",
            {
                "quality": serializers.IntegerField(min_value=1, max_value=5, required=False),
                "alignment": serializers.IntegerField(min_value=1, max_value=5, required=False),
                "duration_ms": serializers.IntegerField(required=False),
            },
        ),
        responses={
            201: inline_serializer(
                "RatingOutput",
                {
                    "id": serializers.IntegerField(),
                    "batch": inline_serializer(
                        "RatingBatch",
                        {
                            "id": serializers.IntegerField(),
                            "status": serializers.CharField(),
                            "progress": ProgressOutput(),
                        },
                    ),
                },
            ),
            400: OpenApiResponse(description="Missing, extra, non-integer or out-of-range score."),
            404: OpenApiResponse(description="Not your task."),
            409: OpenApiResponse(description="Already rated."),
            410: OpenApiResponse(description="Lease expired or returned."),
        },
    )
    def post(self, request, task_id: int):
        """Rate a task of your batch with exactly the campaign's dimensions (integers 1-5)."""
        if not isinstance(request.data, dict):
            raise InvalidInput('send a JSON object like {"quality": 4, "alignment": 3}')
        status, payload = rating_answer(request, request.user, request.data, task_id=task_id)
        return Response(payload, status=status)


# ---------------------------------------------- the answers, shared by the DRF views and the lean cycle


def batch_request_answer(request, user, data: dict, *, slug: str) -> tuple[int, dict | None]:
    """An annotation batch for `user`: 201 new, 200 their open batch, 204 (no body) nothing left."""
    campaign = campaign_get(slug=slug)
    batch, created = batch_request(campaign=campaign, user=user)
    return _batch_answer(batch, created, campaign)


def _batch_answer(batch, created: bool, campaign) -> tuple[int, dict | None]:
    if batch is None:
        return 204, None
    batch.campaign = campaign
    return (201 if created else 200), batch_payload(batch)


def rating_answer(request, user, data: dict, *, task_id: int) -> tuple[int, dict]:
    """Rate `task_id` with the body's scores (every key but duration_ms): 201 with the batch's progress."""
    scores = {k: v for k, v in data.items() if k != "duration_ms"}
    done = rating_submit(task_id=task_id, user=user, scores=scores, duration_ms=data.get("duration_ms"))
    return 201, {"id": done.id, "batch": {"id": done.batch_id, "status": done.batch_status, "progress": done.progress}}


def _annotate_mode(data: dict) -> bool:
    return data.get("mode", "annotate") == "annotate"  # expert mode and bad modes: the DRF view answers


class StandingOutput(serializers.Serializer):
    campaign = serializers.CharField()
    batches = serializers.IntegerField(help_text="Closed batches.")
    approved = serializers.IntegerField()
    rejected = serializers.IntegerField()
    pending = serializers.IntegerField()
    text = serializers.CharField(help_text='e.g. "12 of 13 batches approved"')


class StandingApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(responses={200: StandingOutput, 404: OpenApiResponse(description="Unknown campaign.")})
    def get(self, request, slug: str):
        """Your standing in a campaign: how many of your closed batches were approved, rejected, pending."""
        return Response(annotator_standing(campaign=campaign_get(slug=slug), user=request.user))


urlpatterns = [
    path("campaigns/<slug:slug>/standing/", StandingApi.as_view(), name="api-standing"),
    # The two hot endpoints answer through the lean request cycle, the DRF view behind it (core/api/lean.py).
    path(
        "campaigns/<slug:slug>/batches/",
        lean_view(BatchRequestApi, batch_request_answer, roles=IsAnnotator.allowed_roles, accepts=_annotate_mode),
        name="api-batch-request",
    ),
    path("batches/", BatchListApi.as_view(), name="api-batch-list"),
    path("batches/<int:batch_id>/", BatchDetailApi.as_view(), name="api-batch-detail"),
    path("batches/<int:batch_id>/heartbeat/", BatchHeartbeatApi.as_view(), name="api-batch-heartbeat"),
    path("batches/<int:batch_id>/finish/", BatchFinishApi.as_view(), name="api-batch-finish"),
    path(
        "tasks/<int:task_id>/rating/",
        lean_view(RatingSubmitApi, rating_answer, roles=IsAnnotator.allowed_roles),
        name="api-rating-submit",
    ),
]
