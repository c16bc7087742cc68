"""Scrutiny API for admins: decide a batch, list a campaign's batches with their figures (or its review
queue by risk), pause and resume annotators, read and export the audit trail, reusable reason
templates, and the campaign's QC settings. Golden figures appear only here (admins), never in
annotator-facing responses."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput, NotFound
from core.permissions import IsAdmin

from ..models import Batch
from ..selectors.audit import audit_csv, audit_events, audit_row
from ..selectors.scrutiny import batch_for_scrutiny_row, campaign_closed_batches, reason_templates
from ..selectors.users import user_get
from ..services.campaigns import QC_SETTINGS, campaign_get, campaign_update
from ..services.reasons import reason_template_add, reason_template_remove
from ..services.scrutiny import (
    annotator_pause,
    annotator_resume,
    batch_admin_decide,
    batch_rows,
    rescrutiny_enqueue,
)

PAGE_MAX = 500


class FiguresSerializer(serializers.Serializer):
    n_golden = serializers.IntegerField()
    srcc = serializers.FloatField(allow_null=True)
    srcc_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True, required=False)
    plcc = serializers.FloatField(allow_null=True)
    plcc_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True, required=False)
    bias = serializers.FloatField(allow_null=True)
    mae = serializers.FloatField(allow_null=True, required=False)
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
    p_genuine = serializers.FloatField(allow_null=True, help_text="Probability the annotator is genuine (calibrated).")
    risk = serializers.FloatField(allow_null=True, help_text="How likely the batch is careless work: the review order.")
    public_reason = serializers.CharField(help_text="What the annotator reads.")
    evidence = serializers.DictField(help_text="Cumulative figures, reference, patterns, method, golden source.")


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

    @extend_schema(
        request=InputSerializer,
        responses=BatchScrutinySerializer,
        summary="Approve or reject a batch (admins); a rejection needs a reason",
    )
    def post(self, request, batch_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = batch_admin_decide(batch_id=batch_id, user=request.user, **data.validated_data)
        batch = batch_for_scrutiny_row(batch_id=batch.pk)
        row = batch_rows(batches=[batch], dimensions=batch.campaign.dimensions)[0]
        return Response(BatchScrutinySerializer(row).data)


class CampaignScrutinyApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        parameters=[
            OpenApiParameter("decision", str, description="pending, approved, rejected or needs_review"),
            OpenApiParameter("annotator", int, description="Only this annotator's batches (user id)."),
            OpenApiParameter(
                "order",
                str,
                enum=["closed", "risk"],
                description="closed: newest first (default); risk: the review order, riskiest first.",
            ),
            OpenApiParameter("limit", int, description=f"Page size (default 100, at most {PAGE_MAX})."),
            OpenApiParameter("offset", int),
        ],
        responses=ScrutinyPageSerializer,
        summary="Closed batches of a campaign with their scrutiny figures (admins)",
    )
    def get(self, request, slug: str):
        campaign = campaign_get(slug=slug)
        order = request.query_params.get("order", "closed")
        if order not in ("closed", "risk"):
            raise InvalidInput("order must be 'closed' or 'risk'")
        decision = request.query_params.get("decision")
        if decision and decision not in Batch.Decision.values:
            raise InvalidInput(f"decision must be one of {', '.join(Batch.Decision.values)}")
        annotator = request.query_params.get("annotator")
        if annotator and not annotator.isdigit():
            raise InvalidInput("annotator must be a user id")
        qs = campaign_closed_batches(
            campaign=campaign, order=order, decision=decision, annotator_id=int(annotator) if annotator else None
        )
        try:
            limit = min(max(int(request.query_params.get("limit", 100)), 1), PAGE_MAX)
            offset = max(int(request.query_params.get("offset", 0)), 0)
        except ValueError:
            raise InvalidInput("limit and offset must be integers") from None
        count = qs.count()
        rows = batch_rows(batches=qs[offset : offset + limit], dimensions=campaign.dimensions)
        return Response(
            {"count": count, "limit": limit, "offset": offset, "results": BatchScrutinySerializer(rows, many=True).data}
        )


class AnnotatorPauseApi(APIView):
    permission_classes = [IsAdmin]
    pause = True

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)

    @extend_schema(
        request=InputSerializer,
        responses=PauseOutputSerializer,
        summary="Pause (no new batches) or resume an annotator (admins)",
    )
    def post(self, request, user_id: int):
        user = user_get(user_id=user_id)
        if self.pause:
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            annotator_pause(user=user, reason=data.validated_data["reason"], by=request.user)
        else:
            annotator_resume(user=user, by=request.user)
        profile = user.annotator_profile
        return Response(
            {
                "annotator": user.username,
                "id": user.pk,
                "is_paused": profile.is_paused,
                "paused_reason": profile.paused_reason,
            }
        )


# ------------------------------------------------------------------------------------ audit trail


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    kind = serializers.CharField()
    campaign = serializers.CharField(allow_null=True)
    batch = serializers.IntegerField(allow_null=True)
    annotator = serializers.CharField()
    annotator_id = serializers.IntegerField()
    source = serializers.CharField()  # type: ignore[assignment]  # the event's field, not DRF's Field.source
    actor = serializers.CharField(allow_null=True)
    before = serializers.CharField()
    after = serializers.CharField()
    reason = serializers.CharField()
    p_genuine = serializers.FloatField(allow_null=True)
    figures = serializers.DictField()


class AuditPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = AuditEventSerializer(many=True)


AUDIT_FILTERS = [
    OpenApiParameter("campaign", str, description="Campaign slug."),
    OpenApiParameter("batch", int, description="Batch id."),
    OpenApiParameter("annotator", int, description="The annotator's user id."),
]


def _audit_filtered(request):
    params = request.query_params
    filters: dict[str, Any] = {}
    if params.get("campaign"):
        filters["campaign"] = campaign_get(slug=params["campaign"])
    for key in ("batch", "annotator"):
        value = params.get(key)
        if value:
            if not value.isdigit():
                raise InvalidInput(f"{key} must be an id (a whole number)")
            filters["batch" if key == "batch" else "subject"] = int(value)
    return audit_events(campaign=filters.get("campaign"), batch=filters.get("batch"), subject=filters.get("subject"))


class AuditListApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        parameters=AUDIT_FILTERS + [OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=AuditPageSerializer,
        summary="The audit trail: every decision and pause, oldest first",
    )
    def get(self, request):
        qs = _audit_filtered(request)
        try:
            limit = min(max(int(request.query_params.get("limit", 100)), 1), PAGE_MAX)
            offset = max(int(request.query_params.get("offset", 0)), 0)
        except ValueError:
            raise InvalidInput("limit and offset must be integers") from None
        rows = [audit_row(e) for e in qs[offset : offset + limit]]
        return Response(
            {
                "count": qs.count(),
                "limit": limit,
                "offset": offset,
                "results": AuditEventSerializer(rows, many=True).data,
            }
        )


class AuditExportApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        parameters=AUDIT_FILTERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
        summary="The audit trail as CSV (streamed)",
    )
    def get(self, request):
        qs = _audit_filtered(request)
        response = StreamingHttpResponse(audit_csv(qs), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response


# -------------------------------------------------------------------------------- reason templates


class ReasonTemplateApi(APIView):
    permission_classes = [IsAdmin]

    class Input(serializers.Serializer):
        text = serializers.CharField(max_length=300)

    class Output(serializers.Serializer):
        id = serializers.IntegerField()
        text = serializers.CharField()

    @extend_schema(responses=Output(many=True), summary="Reusable reasons for decisions on the desk")
    def get(self, request):
        return Response(self.Output(reason_templates(), many=True).data)

    @extend_schema(request=Input, responses={201: Output}, summary="Add a reusable reason")
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        template = reason_template_add(text=data.validated_data["text"], user=request.user)
        return Response(self.Output(template).data, status=201)


class ReasonTemplateDeleteApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses={204: None}, summary="Remove a reusable reason")
    def delete(self, request, template_id: int):
        if not reason_template_remove(template_id=template_id):
            raise NotFound(f"reason template {template_id} not found")
        return Response(status=204)


# ------------------------------------------------------------------------------------ QC settings


class QcSettingsApi(APIView):
    """A campaign's quality-control settings, validated exactly as on the command line and in the
    Django admin (services.campaigns.campaign_validate)."""

    permission_classes = [IsAdmin]

    class Settings(serializers.Serializer):
        scrutiny_method = serializers.ChoiceField(choices=["calibrated", "fixed"])
        scrutiny_measure = serializers.ChoiceField(choices=["srcc_and_plcc", "srcc", "plcc"])
        min_golden = serializers.IntegerField(min_value=0)
        approve_threshold = serializers.FloatField(min_value=0, max_value=1)
        reject_threshold = serializers.FloatField(min_value=0, max_value=1)
        approve_probability = serializers.FloatField(min_value=0, max_value=1)
        reject_probability = serializers.FloatField(min_value=0, max_value=1)
        golden_per_batch = serializers.IntegerField(min_value=0)
        golden_min_per_batch = serializers.IntegerField(min_value=0)
        golden_max_per_batch = serializers.IntegerField(min_value=0)
        expert_ratings_per_golden = serializers.IntegerField(min_value=1)

    @extend_schema(responses=Settings, summary="A campaign's QC settings")
    def get(self, request, slug: str):
        campaign = campaign_get(slug=slug)
        return Response({k: getattr(campaign, k) for k in QC_SETTINGS})

    @extend_schema(
        request=Settings(partial=True),
        responses=Settings,
        summary="Change QC settings (any subset); batches are decided again on the workers",
    )
    def patch(self, request, slug: str):
        campaign = campaign_get(slug=slug)
        if not isinstance(request.data, dict) or not request.data:
            raise InvalidInput('send a JSON object with the settings to change, e.g. {"scrutiny_method": "fixed"}')
        unknown = sorted(set(request.data) - set(QC_SETTINGS))
        if unknown:
            raise InvalidInput(f"not a QC setting: {', '.join(unknown)} (settings: {', '.join(QC_SETTINGS)})")
        data = self.Settings(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        campaign = campaign_update(campaign=campaign, **data.validated_data)
        rescrutiny_enqueue(campaign=campaign, why="QC settings changed")
        return Response({k: getattr(campaign, k) for k in QC_SETTINGS})


urlpatterns = [
    path("audit/", AuditListApi.as_view(), name="api-audit"),
    path("audit/export/", AuditExportApi.as_view(), name="api-audit-export"),
    path("reason-templates/", ReasonTemplateApi.as_view(), name="api-reason-templates"),
    path("reason-templates/<int:template_id>/", ReasonTemplateDeleteApi.as_view(), name="api-reason-template"),
    path("campaigns/<slug:slug>/qc-settings/", QcSettingsApi.as_view(), name="api-qc-settings"),
    path("batches/<int:batch_id>/decision/", BatchDecisionApi.as_view(), name="api-batch-decision"),
    path("campaigns/<slug:slug>/scrutiny/", CampaignScrutinyApi.as_view(), name="api-campaign-scrutiny"),
    path("annotators/<int:user_id>/pause/", AnnotatorPauseApi.as_view(pause=True), name="api-annotator-pause"),
    path("annotators/<int:user_id>/resume/", AnnotatorPauseApi.as_view(pause=False), name="api-annotator-resume"),
]
