"""Scrutiny API for admins: decide a batch, list a campaign's batches with their figures, pause and
resume annotators. Golden figures appear only here (admins), never in annotator-facing responses."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Batch
from ..permissions import IsAdmin
from ..services.campaigns import campaign_get
from ..services.errors import InvalidInput
from ..services.scrutiny import annotator_pause, annotator_resume, batch_admin_decide, batch_rows
from .errors import service_errors

User = get_user_model()
PAGE_MAX = 500


class FiguresSerializer(serializers.Serializer):
    n_golden = serializers.IntegerField()
    srcc = serializers.FloatField(allow_null=True)
    plcc = serializers.FloatField(allow_null=True)
    bias = serializers.FloatField(allow_null=True)
    constant = serializers.CharField(allow_null=True, required=False)


class BatchScrutinySerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    annotator = serializers.CharField()
    annotator_id = serializers.IntegerField()
    kind = serializers.CharField()
    external_ref = serializers.CharField()
    decision = serializers.CharField()
    decision_source = serializers.CharField()
    reason = serializers.CharField()
    auto_decision = serializers.CharField()
    auto_reason = serializers.CharField()
    decided_by = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    scrutinized_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    figures = serializers.DictField(child=FiguresSerializer())


class ScrutinyPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = BatchScrutinySerializer(many=True)


class PauseOutputSerializer(serializers.Serializer):
    annotator = serializers.CharField()
    id = serializers.IntegerField()
    is_paused = serializers.BooleanField()
    paused_reason = serializers.CharField()


class BatchDecisionApi(APIView):
    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(choices=["approve", "reject"])
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    @extend_schema(request=InputSerializer, responses=BatchScrutinySerializer,
                   summary="Approve or reject a batch (admins); a rejection needs a reason")
    @service_errors
    def post(self, request, batch_id: int):
        data = self.InputSerializer(data=request.data)
        if not data.is_valid():
            raise InvalidInput("; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in data.errors.items()))
        batch = batch_admin_decide(batch_id=batch_id, user=request.user, **data.validated_data)
        batch = Batch.objects.select_related("annotator", "decided_by", "campaign").get(pk=batch.pk)
        row = batch_rows(batches=[batch], dimensions=batch.campaign.dimensions)[0]
        return Response(BatchScrutinySerializer(row).data)


class CampaignScrutinyApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        parameters=[
            OpenApiParameter("decision", str, description="pending, approved, rejected or needs_review"),
            OpenApiParameter("annotator", int, description="Only this annotator's batches (user id)."),
            OpenApiParameter("limit", int, description=f"Page size (default 100, at most {PAGE_MAX})."),
            OpenApiParameter("offset", int),
        ],
        responses=ScrutinyPageSerializer,
        summary="Closed batches of a campaign with their scrutiny figures (admins)",
    )
    @service_errors
    def get(self, request, slug: str):
        campaign = campaign_get(slug=slug)
        qs = (Batch.objects.filter(campaign=campaign, status=Batch.Status.CLOSED)
              .select_related("annotator", "decided_by").order_by("-closed_at", "-pk"))
        decision = request.query_params.get("decision")
        if decision:
            if decision not in Batch.Decision.values:
                raise InvalidInput(f"decision must be one of {', '.join(Batch.Decision.values)}")
            qs = qs.filter(decision=decision)
        annotator = request.query_params.get("annotator")
        if annotator:
            if not annotator.isdigit():
                raise InvalidInput("annotator must be a user id")
            qs = qs.filter(annotator_id=int(annotator))
        try:
            limit = min(max(int(request.query_params.get("limit", 100)), 1), PAGE_MAX)
            offset = max(int(request.query_params.get("offset", 0)), 0)
        except ValueError:
            raise InvalidInput("limit and offset must be integers") from None
        count = qs.count()
        rows = batch_rows(batches=qs[offset:offset + limit], dimensions=campaign.dimensions)
        return Response({"count": count, "limit": limit, "offset": offset,
                         "results": BatchScrutinySerializer(rows, many=True).data})


class AnnotatorPauseApi(APIView):
    permission_classes = [IsAdmin]
    pause = True

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)

    @extend_schema(request=InputSerializer, responses=PauseOutputSerializer,
                   summary="Pause (no new batches) or resume an annotator (admins)")
    @service_errors
    def post(self, request, user_id: int):
        user = get_object_or_404(User, pk=user_id)
        if self.pause:
            data = self.InputSerializer(data=request.data)
            if not data.is_valid():
                raise InvalidInput("; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in data.errors.items()))
            annotator_pause(user=user, reason=data.validated_data["reason"])
        else:
            annotator_resume(user=user)
        profile = user.annotator_profile
        return Response({"annotator": user.username, "id": user.pk, "is_paused": profile.is_paused,
                         "paused_reason": profile.paused_reason})


urlpatterns = [
    path("batches/<int:batch_id>/decision/", BatchDecisionApi.as_view(), name="api-batch-decision"),
    path("campaigns/<slug:slug>/scrutiny/", CampaignScrutinyApi.as_view(), name="api-campaign-scrutiny"),
    path("annotators/<int:user_id>/pause/", AnnotatorPauseApi.as_view(pause=True), name="api-annotator-pause"),
    path("annotators/<int:user_id>/resume/", AnnotatorPauseApi.as_view(pause=False), name="api-annotator-resume"),
]
