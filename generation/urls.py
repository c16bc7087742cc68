"""API v1 routes of the generation app (mounted at /api/v1/)."""

from django.urls import path

from . import api

urlpatterns = [
    path("campaigns/<slug:slug>/taxonomies/", api.TaxonomyListApi.as_view(), name="api-taxonomies"),
    path("campaigns/<slug:slug>/prompt-sets/", api.PromptSetListApi.as_view(), name="api-prompt-sets"),
    path("campaigns/<slug:slug>/prompt-sets/<slug:set_slug>/prompts/", api.PromptListApi.as_view(), name="api-prompts"),
    path(
        "campaigns/<slug:slug>/prompt-sets/<slug:set_slug>/classify/",
        api.PromptClassifyApi.as_view(),
        name="api-prompts-classify",
    ),
    path("campaigns/<slug:slug>/generators/", api.GeneratorListApi.as_view(), name="api-generators"),
    path("campaigns/<slug:slug>/generation-jobs/", api.GenerationJobListApi.as_view(), name="api-generation-jobs"),
    path(
        "campaigns/<slug:slug>/generation-outputs/review/", api.OutputReviewApi.as_view(), name="api-generation-review"
    ),
    path("campaigns/<slug:slug>/coverage/", api.CoverageApi.as_view(), name="api-coverage"),
    path("generation-jobs/<int:job_id>/", api.GenerationJobDetailApi.as_view(), name="api-generation-job"),
    path(
        "generation-jobs/<int:job_id>/cancel/", api.GenerationJobCancelApi.as_view(), name="api-generation-job-cancel"
    ),
    path("generation-jobs/<int:job_id>/outputs/", api.GenerationOutputListApi.as_view(), name="api-generation-outputs"),
    path(
        "generation-outputs/<int:output_id>/media/",
        api.GenerationOutputFileApi.as_view(),
        name="api-generation-output-media",
    ),
    path(
        "generation-outputs/<int:output_id>/thumbnail/",
        api.GenerationOutputThumbnailApi.as_view(),
        name="api-generation-output-thumbnail",
    ),
]
