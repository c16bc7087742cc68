"""API v1 routes of the training app (mounted at /api/v1/)."""

from django.urls import include, path

from . import api

urlpatterns = [
    path("training-runs/", api.TrainingRunListApi.as_view(), name="api-training-runs"),
    path("training-runs/<int:run_id>/", api.TrainingRunDetailApi.as_view(), name="api-training-run"),
    path("training-runs/<int:run_id>/cancel/", api.TrainingRunCancelApi.as_view(), name="api-training-run-cancel"),
    path("scorers/", api.ScorerListApi.as_view(), name="api-scorers"),
    path("benchmarks/", api.BenchmarkListApi.as_view(), name="api-benchmarks"),
    path("benchmarks/<int:benchmark_id>/", api.BenchmarkDetailApi.as_view(), name="api-benchmark"),
    path("benchmarks/<int:benchmark_id>/report/", api.BenchmarkReportApi.as_view(), name="api-benchmark-report"),
    path("scorers/<int:scorer_id>/score/", api.ScorerScoreApi.as_view(), name="api-scorer-score"),
    path("", include("training.api_loop")),
]
