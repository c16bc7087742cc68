"""Job status: progress of imports, scrutiny, aggregation and exports (for the UI and scripts)."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from core.jobs import redact_paths

from ..models import Job
from ..selectors.jobs import job_for_page

# Keys of a job's result that name folders on the server: kept in the database, never shown.
SERVER_PATH_KEYS = frozenset({"out", "path", "manifest", "archive", "media_root", "output_dir"})


class JobOutput(serializers.ModelSerializer):
    result = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = (
            "id",
            "kind",
            "status",
            "progress",
            "total",
            "message",
            "result",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "attempts",
            "download_url",
        )

    def get_result(self, job) -> dict:
        result = job.result if isinstance(job.result, dict) else {}
        return {k: v for k, v in result.items() if k not in SERVER_PATH_KEYS}

    def get_message(self, job) -> str:
        return redact_paths(job.message)

    def get_error(self, job) -> str:
        return redact_paths(job.error)

    def get_download_url(self, job) -> str | None:
        """Where a finished export is downloaded (by job id; the folder itself is never named)."""
        if job.kind == "dataset_export" and job.status == Job.Status.SUCCEEDED and not job.result.get("pruned_at"):
            return f"/api/v1/exports/{job.pk}/download/"
        return None


class JobDetailApi(APIView):
    @extend_schema(responses=JobOutput)
    def get(self, request, job_id: int):
        """A job's status and progress (its creator, admins, and researchers for command-line jobs); 404
        alike for a job that does not exist and one the caller may not see."""
        job = job_for_page(job_id=job_id, user=request.user)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return Response(JobOutput(job).data)


urlpatterns = [path("jobs/<int:job_id>/", JobDetailApi.as_view(), name="api-job")]
