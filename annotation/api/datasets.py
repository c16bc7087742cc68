"""Dataset versions (MOS aggregation), coverage, extra ratings and exports. Researchers and admins only."""

from __future__ import annotations

from django.http import FileResponse, StreamingHttpResponse
from django.urls import path
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from core.permissions import IsResearcher

from ..aggregation import METHODS
from ..models import DatasetVersion, Job
from ..selectors.versions import campaign_versions
from ..services.campaigns import campaign_get
from ..services.coverage import coverage_extra_ratings, coverage_summary
from ..services.disk import export_disk_check
from ..services.exports import FORMATS, export_check
from ..services.exports.download import export_download_start, zip_stream
from ..services.exports.media import MEDIA_MODES
from ..services.job_requests import job_start_once, request_key_clean
from ..services.mos import mos_method_check, version_get
from .jobs import JobOutput


class VersionOutput(serializers.ModelSerializer):
    campaign: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = DatasetVersion
        fields = ("id", "campaign", "number", "method", "params", "counts", "checksum", "source", "created_at")


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Any 8-100 characters: a repeat with the same key (a double click) answers with the first job.",
)
JobStarted = inline_serializer("DatasetJobStarted", {"job": JobOutput(), "status_url": serializers.CharField()})


def _started(job: Job) -> Response:
    return Response({"job": JobOutput(job).data, "status_url": f"/api/v1/jobs/{job.pk}/"}, status=202)


class VersionListApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        method = serializers.ChoiceField(choices=METHODS, default="mean")
        params = serializers.DictField(
            required=False, allow_null=True, help_text="Method parameters (see docs/mos.md)."
        )

    @extend_schema(responses=VersionOutput(many=True))
    def get(self, request, slug: str):
        """The campaign's dataset versions, newest first."""
        campaign = campaign_get(slug=slug)
        return Response(VersionOutput(campaign_versions(campaign=campaign), many=True).data)

    @extend_schema(
        request=Input,
        responses={202: JobStarted},
        parameters=[IDEMPOTENCY_KEY],
        examples=[OpenApiExample("mle", value={"method": "mle", "params": {"v_min": 0.3}}, request_only=True)],
    )
    def post(self, request, slug: str):
        """Aggregate the approved ratings into a new version, as a job on the workers (202 + job)."""
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        method, params = data.validated_data["method"], data.validated_data.get("params")
        mos_method_check(method, params)
        job, _ = job_start_once(
            kind="mos_aggregate",
            params={"method": method, "params": params},
            campaign=campaign,
            user=request.user,
            request_key=request_key_clean(request.headers.get("Idempotency-Key")),
        )
        return _started(job)


class VersionDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(
        responses=inline_serializer("VersionDetail", {"version": VersionOutput(), "coverage": serializers.DictField()})
    )
    def get(self, request, version_id: int):
        """A version with its counts and coverage (complete, below target, uncertain items)."""
        version = version_get(version_id=version_id)
        return Response({"version": VersionOutput(version).data, "coverage": coverage_summary(version=version)})


class ExtraRatingsApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        step = serializers.IntegerField(min_value=1, max_value=50, default=2)

    class Output(serializers.Serializer):
        uncertain = serializers.IntegerField(help_text="Items whose CI half-width exceeds the campaign threshold.")
        raised = serializers.IntegerField(help_text="Items whose target was raised.")
        at_cap = serializers.IntegerField(help_text="Uncertain items already at max_ratings_per_item.")
        cap = serializers.IntegerField()
        step = serializers.IntegerField()

    @extend_schema(request=Input, responses=Output)
    def post(self, request, version_id: int):
        """Give the version's uncertain items (CI wider than the campaign threshold) extra ratings:
        raise their target by `step`, up to the campaign's max_ratings_per_item."""
        version = version_get(version_id=version_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(coverage_extra_ratings(version=version, step=data.validated_data["step"]))


class ExportStartApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        format = serializers.ChoiceField(choices=FORMATS)
        split = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            help_text="e.g. train=0.8,val=0.1,test=0.1 (by prompt, stratified by generator), "
            "or 'given' (the split imported with the items, kept exactly).",
        )
        seed = serializers.IntegerField(required=False, default=0)
        media = serializers.ChoiceField(choices=MEDIA_MODES, default="copy")
        golden = serializers.CharField(
            required=False,
            default="keep",
            help_text="Golden items: keep, exclude-train (not in the train split) or exclude.",
        )

    @extend_schema(
        request=Input,
        responses={202: JobStarted},
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample(
                "sft", value={"format": "sft", "split": "train=0.8,val=0.1,test=0.1", "seed": 0}, request_only=True
            )
        ],
    )
    def post(self, request, version_id: int):
        """Export the version as a job on the workers (202 + job); download it when the job succeeded."""
        version = version_get(version_id=version_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        args = export_check(
            fmt=v["format"], split=v["split"], seed=v["seed"], media=v["media"], out=None, golden=v["golden"]
        )
        export_disk_check()  # 507 with the free space, before a job is made
        job, _ = job_start_once(
            kind="dataset_export",
            campaign=version.campaign,
            user=request.user,
            request_key=request_key_clean(request.headers.get("Idempotency-Key")),
            params={
                "version_id": version.pk,
                "format": v["format"],
                "split": args["split"],
                "seed": args["seed"],
                "media": v["media"],
                "golden": args["golden"],
            },
        )
        return _started(job)


class ExportDownloadApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(
        parameters=[
            OpenApiParameter("file", str, description="One file of the export (e.g. manifest.json) instead of the zip.")
        ],
        responses={(200, "application/zip"): bytes},
    )
    def get(self, request, job_id: int):
        """The finished export: a zip streamed of its folder, or one file with ?file=."""
        job, root = export_download_start(job_id=job_id, user=request.user)
        name = request.query_params.get("file")
        if name:
            target = (root / name).resolve()
            if root.resolve() not in target.parents or not target.is_file():
                raise NotFound(f"export job {job_id} has no file {name!r}")
            return FileResponse(open(target, "rb"), as_attachment=True, filename=target.name)
        response = StreamingHttpResponse(zip_stream(root), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="export-{job_id}-{job.result.get("format", "")}.zip"'
        return response


urlpatterns = [
    path("campaigns/<slug:slug>/versions/", VersionListApi.as_view(), name="api-versions"),
    path("versions/<int:version_id>/", VersionDetailApi.as_view(), name="api-version"),
    path("versions/<int:version_id>/extra-ratings/", ExtraRatingsApi.as_view(), name="api-version-extra-ratings"),
    path("versions/<int:version_id>/exports/", ExportStartApi.as_view(), name="api-version-exports"),
    path("exports/<int:job_id>/download/", ExportDownloadApi.as_view(), name="api-export-download"),
]
