"""API v1 of the training app: training/evaluation runs, registered scorers, scoring uploads.

Researchers and admins only (annotators and experts get 403). Thin views: validate, call one service,
serialize. Scoring is synchronous for a few files (SCORE_SYNC_MAX_FILES); big jobs go through the
Celery task `training.score_batch`.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput, NotFound
from core.jobs import redact_paths
from core.permissions import IsResearcher

from . import selectors
from .models import Benchmark, Scorer, TrainingRun
from .services.benchmarks import benchmark_create, benchmark_enqueue, benchmark_file, benchmark_get
from .services.configs import config_from_yaml
from .services.runs import run_cancel, run_create, run_enqueue
from .services.scorers import Upload, scorer_get, scorer_score_uploads


class ScorerOutput(serializers.ModelSerializer):
    training_run: serializers.PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Scorer
        # No `path`: the checkpoint's folder on the workers is not for API clients (score through the API).
        fields = ("id", "name", "base_model", "training_run", "metrics", "is_active", "created_at")


class RunListOutput(serializers.ModelSerializer):
    campaign = serializers.CharField(source="campaign.slug")
    dataset_version_number = serializers.IntegerField(source="dataset_version.number")
    scorer_name = serializers.CharField(source="scorer.name", default=None)
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = TrainingRun
        fields: tuple[str, ...] = (
            "id",
            "kind",
            "status",
            "message",
            "campaign",
            "dataset_version",
            "dataset_version_number",
            "scorer",
            "scorer_name",
            "base_model",
            "progress_step",
            "progress_total",
            "cancel_requested",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        )


class RunDetailOutput(RunListOutput):
    registered_scorer = serializers.SerializerMethodField()

    class Meta(RunListOutput.Meta):
        # No server folders (output_dir, export_dir, predictions_path): they tell clients nothing they can use
        # and how the workers' disks are laid out; errors are shown with folders left out.
        fields = RunListOutput.Meta.fields + (
            "config",
            "loss_curve",
            "metrics",
            "export_job",
            "error",
            "attempts",
            "celery_task_id",
            "registered_scorer",
        )

    error = serializers.SerializerMethodField()

    def get_error(self, run) -> str:
        return redact_paths(run.error)

    @extend_schema_field(
        inline_serializer(
            "RegisteredScorer", {"id": serializers.IntegerField(), "name": serializers.CharField()}, allow_null=True
        )
    )
    def get_registered_scorer(self, run) -> dict | None:
        scorers = list(run.scorers.all())
        return {"id": scorers[0].pk, "name": scorers[0].name} if scorers else None


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
        request=Input,
        responses={202: RunDetailOutput},
        examples=[
            OpenApiExample(
                "train", value={"kind": "train", "dataset_version": 3, "config": {"epochs": 2, "learning_rate": 0.0002}}
            )
        ],
    )
    def post(self, request):
        """Launch a training run or an evaluation; it runs on the `training` queue. 202 with the run."""
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        config = data.validated_data.get("config") or {}
        if isinstance(config, str):
            config = config_from_yaml(text=config)
        run = run_create(
            kind=data.validated_data["kind"],
            dataset_version_id=data.validated_data.get("dataset_version"),
            config=config,
            scorer_id=data.validated_data.get("scorer"),
            created_by=request.user,
        )
        run_enqueue(run=run)
        return Response(RunDetailOutput(selectors.run_detail(run_id=run.pk)).data, status=status.HTTP_202_ACCEPTED)


class TrainingRunDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=RunDetailOutput)
    def get(self, request, run_id: int):
        """Status, progress, loss curve ({step, loss, lr} points) and metrics (report.json) of a run."""
        run = selectors.run_detail(run_id=run_id)
        if run is None:
            raise NotFound(f"training run {run_id} does not exist")
        return Response(RunDetailOutput(run).data)


class TrainingRunCancelApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses=RunDetailOutput)
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
        request=inline_serializer(
            "ScoreUpload",
            {
                "media": serializers.ListField(child=serializers.FileField(), help_text="One or more images/videos."),
                "prompt": serializers.CharField(),
                "media_type": serializers.ChoiceField(choices=["image", "video"], required=False),
            },
        ),
        responses=inline_serializer(
            "ScoreResult",
            {
                "filename": serializers.CharField(),
                "media_type": serializers.CharField(),
                "quality": serializers.FloatField(),
                "alignment": serializers.FloatField(),
            },
            many=True,
        ),
    )
    def post(self, request, scorer_id: int):
        """Score uploaded media against a prompt: quality and alignment on 1-5, per file (synchronous,
        a few files at most; use the training.score_batch task for big sets)."""
        scorer = scorer_get(scorer_id=scorer_id)
        files = request.FILES.getlist("media")
        if not files:
            raise InvalidInput("upload at least one media file in the multipart field 'media'")
        uploads = [Upload(name=f.name, file=f) for f in files]
        results = scorer_score_uploads(
            scorer=scorer,
            uploads=uploads,
            prompt=request.data.get("prompt", ""),
            media_type=request.data.get("media_type") or None,
        )
        return Response(results)


class BenchmarkOutput(serializers.ModelSerializer):
    campaign = serializers.CharField(source="campaign.slug")
    dataset_version_number = serializers.IntegerField(source="dataset_version.number")
    created_by = serializers.CharField(source="created_by.username", default=None)
    report_urls = serializers.SerializerMethodField()

    class Meta:
        model = Benchmark
        fields: tuple[str, ...] = (
            "id",
            "status",
            "message",
            "campaign",
            "dataset_version",
            "dataset_version_number",
            "split",
            "methods",
            "bootstrap",
            "progress_step",
            "progress_total",
            "report",
            "output_dir",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "report_urls",
        )

    def get_report_urls(self, bench) -> dict:
        base = f"/api/v1/benchmarks/{bench.pk}/report/"
        return {fmt: f"{base}?type={fmt}" for fmt in ("html", "md", "json")}


class BenchmarkListOutput(BenchmarkOutput):
    class Meta(BenchmarkOutput.Meta):
        fields = tuple(f for f in BenchmarkOutput.Meta.fields if f != "report")


class BenchmarkListApi(APIView):
    """Benchmarks: several methods on a version's split, the paper's Tables 2, 3, 5 and per category."""

    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        dataset_version = serializers.IntegerField()
        methods = serializers.JSONField(
            help_text='[{"name", "scorer": id} | {"name", "kind": baseline or '
            '"predictions", "path"[, "head"]}] or lines NAME=KIND:PATH'
        )
        split = serializers.CharField(required=False, default="test")
        bootstrap = serializers.IntegerField(required=False, default=1000)

    @extend_schema(responses=BenchmarkListOutput(many=True))
    def get(self, request):
        """Benchmarks, newest first (limit/offset pagination; the report itself is on the detail)."""
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.benchmark_list(), request, view=self)
        return paginator.get_paginated_response(BenchmarkListOutput(page, many=True).data)

    @extend_schema(
        request=Input,
        responses={202: BenchmarkOutput},
        examples=[
            OpenApiExample(
                "benchmark",
                request_only=True,
                value={
                    "dataset_version": 3,
                    "methods": [
                        {"name": "Q-Eval-Score", "scorer": 5},
                        {"name": "CLIPScore", "kind": "clipscore", "path": "/models/clip-vit-large-patch14"},
                    ],
                },
            )
        ],
    )
    def post(self, request):
        """Start a benchmark on the training queue (202 with it); 400 names a bad method and creates nothing."""
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        bench = benchmark_create(
            dataset_version_id=v["dataset_version"],
            methods=v["methods"],
            split=v["split"],
            bootstrap=v["bootstrap"],
            created_by=request.user,
        )
        benchmark_enqueue(benchmark=bench)
        return Response(BenchmarkOutput(benchmark_get(benchmark_id=bench.pk)).data, status=status.HTTP_202_ACCEPTED)


class BenchmarkDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=BenchmarkOutput)
    def get(self, request, benchmark_id: int):
        return Response(BenchmarkOutput(benchmark_get(benchmark_id=benchmark_id)).data)


class BenchmarkReportApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses={(200, "text/html"): str})
    def get(self, request, benchmark_id: int):
        """The report file: ?type=html (default; tables and plots), md or json. 409 before it has finished."""
        from django.http import FileResponse

        fmt = request.query_params.get("type", "html")
        path = benchmark_file(benchmark=benchmark_get(benchmark_id=benchmark_id), fmt=fmt)
        types = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8", "json": "application/json"}
        return FileResponse(open(path, "rb"), content_type=types[fmt])
