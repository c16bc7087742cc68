"""Job status: progress of imports, scrutiny, aggregation and exports (for the UI and scripts)."""
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Job
from ..services.jobs import job_visible_to


class JobOutput(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ("id", "kind", "status", "progress", "total", "message", "result", "error", "created_at",
                  "started_at", "finished_at")


class JobDetailApi(APIView):
    @extend_schema(responses=JobOutput)
    def get(self, request, job_id: int):
        """A job's status and progress (its creator, admins, and researchers for command-line jobs)."""
        job = get_object_or_404(Job, pk=job_id)
        if not job_visible_to(job=job, user=request.user):
            return Response({"detail": "Not found."}, status=404)
        return Response(JobOutput(job).data)


urlpatterns = [path("jobs/<int:job_id>/", JobDetailApi.as_view(), name="api-job")]
