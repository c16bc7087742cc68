"""Job status: progress of imports, scrutiny, aggregation and exports (for the UI and scripts)."""
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Job
from ..roles import ADMIN, user_has_role


class JobOutput(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ("id", "kind", "status", "progress", "total", "message", "result", "error", "created_at",
                  "started_at", "finished_at")


class JobDetailApi(APIView):
    @extend_schema(responses=JobOutput)
    def get(self, request, job_id: int):
        """A job's status and progress. Its creator and admins may see it."""
        job = get_object_or_404(Job, pk=job_id)
        if job.created_by_id != request.user.pk and not user_has_role(request.user, ADMIN):
            return Response({"detail": "Not found."}, status=404)
        return Response(JobOutput(job).data)


urlpatterns = [path("jobs/<int:job_id>/", JobDetailApi.as_view(), name="api-job")]
