"""API v1 of the training app: training/evaluation runs, registered scorers, scoring uploads.

Researchers and admins only (annotators and experts get 403). Thin views: validate, call one service,
serialize. Scoring is synchronous for a few files (SCORE_SYNC_MAX_FILES); big jobs go through the
Celery task `training.score_batch`.
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.errors import service_errors
from annotation.permissions import IsResearcher
from annotation.services.errors import InvalidInput, NotFound

from . import selectors
from .models import Scorer, TrainingRun
from .services.configs import config_from_yaml
from .services.runs import run_cancel, run_create, run_enqueue
from .services.scorers import Upload, scorer_get, scorer_score_uploads


class ScorerOutput(serializers.ModelSerializer):
    training_run = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Scorer
        fields = ("id", "name", "path", "base_model", "training_run", "metrics", "is_active", "created_at")


class RunListOutput(serializers.ModelSerializer):
    campaign = serializers.CharField(source="campaign.slug")
    dataset_version_number = serializers.IntegerField(source="dataset_version.number")
    scorer_name = serializers.CharField(source="scorer.name", default=None)
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = TrainingRun
        fields = ("id", "kind", "status", "message", "campaign", "dataset_version", "dataset_version_number",
                  "scorer", "scorer_name", "base_model", "progress_step", "progress_total", "cancel_requested",
                  "created_by", "created_at", "started_at", "finished_at")


class RunDetailOutput(RunListOutput):
    registered_scorer = serializers.SerializerMethodField()

    class Meta(RunListOutput.Meta):
        fields = RunListOutput.Meta.fields + (
            "config", "loss_curve", "metrics", "output_dir", "export_dir", "export_job", "predictions_path",
            "error", "attempts", "celery_task_id", "registered_scorer",
        )

    def get_registered_scorer(self, run) -> dict | None:
        scorers = list(run.scorers.all())
        return {"id": scorers[0].pk, "name": scorers[0].name, "path": scorers[0].path} if scorers else None


class TrainingRunListApi(APIView):
    permission_classes = [IsResearcher]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    class Input(serializers.Serializer):
        kind = serializers.CharField()
        dataset_version = serializers.IntegerField(required=False, allow_null=True)
        config = serializers.JSONField(required=False, help_text="ScorerConfig fields (an object, or YAML text).")
        scorer = serializers.IntegerField(required=False, allow_null=True, help_text="Registered scorer (evaluate).")

    @extend_schema(responses=RunListOutput(many=True))
    def get(self, request):
        """Runs, newest first (limit/offset pagination)."""
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.run_list(), request, view=self)
        return paginator.get_paginated_response(RunListOutput(page, many=True).data)

    @extend_schema(
        request=Input, responses={202: RunDetailOutput},
        examples=[OpenApiExample("train", value={"kind": "train", "dataset_version": 3,
                                                 "config": {"epochs": 2, "learning_rate": 0.0002}})],
    )
    @service_errors
    def post(self, request):
        """Launch a training run or an evaluation; it runs on the `training` queue. 202 with the run."""
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        config = data.validated_data.get("config") or {}
        if isinstance(config, str):
            config = config_from_yaml(text=config)
        run = run_create(kind=data.validated_data["kind"], dataset_version_id=data.validated_data.get("dataset_version"),
                         config=config, scorer_id=data.validated_data.get("scorer"), created_by=request.user)
        run_enqueue(run=run)
        return Response(RunDetailOutput(selectors.run_detail(run_id=run.pk)).data, status=status.HTTP_202_ACCEPTED)


class TrainingRunDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=RunDetailOutput)
    @service_errors
    def get(self, request, run_id: int):
        """Status, progress, loss curve ({step, loss, lr} points) and metrics (report.json) of a run."""
        run = selectors.run_detail(run_id=run_id)
        if run is None:
            raise NotFound(f"training run {run_id} does not exist")
        return Response(RunDetailOutput(run).data)


class TrainingRunCancelApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses=RunDetailOutput)
    @service_errors
    def post(self, request, run_id: int):
        """Cancel: a queued run at once, a running one at its next step (a checkpoint is kept). 409 if finished."""
        run_cancel(run_id=run_id)
        return Response(RunDetailOutput(selectors.run_detail(run_id=run_id)).data)


class ScorerListApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=ScorerOutput(many=True))
    def get(self, request):
        """Active registered scorers, newest first (limit/offset pagination)."""
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.scorer_list(), request, view=self)
        return paginator.get_paginated_response(ScorerOutput(page, many=True).data)


class ScorerScoreApi(APIView):
    permission_classes = [IsResearcher]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request=inline_serializer("ScoreUpload", {
            "media": serializers.ListField(child=serializers.FileField(), help_text="One or more images/videos."),
            "prompt": serializers.CharField(),
            "media_type": serializers.ChoiceField(choices=["image", "video"], required=False),
        }),
        responses=inline_serializer("ScoreResult", {
            "filename": serializers.CharField(), "media_type": serializers.CharField(),
            "quality": serializers.FloatField(), "alignment": serializers.FloatField(),
        }, many=True),
    )
    @service_errors
    def post(self, request, scorer_id: int):
        """Score uploaded media against a prompt: quality and alignment on 1-5, per file (synchronous,
        a few files at most; use the training.score_batch task for big sets)."""
        scorer = scorer_get(scorer_id=scorer_id)
        files = request.FILES.getlist("media")
        if not files:
            raise InvalidInput("upload at least one media file in the multipart field 'media'")
        uploads = [Upload(name=f.name, file=f) for f in files]
        results = scorer_score_uploads(scorer=scorer, uploads=uploads, prompt=request.data.get("prompt", ""),
                                       media_type=request.data.get("media_type") or None)
        return Response(results)
