from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from .views import annotate, desk, generation, home, jobs, live, manage, research
from .views import training as training_views

urlpatterns = [
    path("", home.home, name="home"),
    path("favicon.ico", RedirectView.as_view(url=static("frontend/favicon.svg"), permanent=True)),
    path("login/", auth_views.LoginView.as_view(template_name="frontend/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("jobs/<int:job_id>/", jobs.job_detail, name="job-detail"),
    # annotator pages (area ratingui)
    path("campaigns/<slug:slug>/", annotate.campaign_detail, name="campaign"),
    path("campaigns/<slug:slug>/rate/", annotate.rate, name="rate"),
    path("my/batches/", annotate.my_batches, name="my-batches"),
    # researcher training pages (area trainplat)
    path("training/", training_views.runs, name="training-runs"),
    path("training/runs/<int:run_id>/", training_views.run_detail, name="training-run"),
    path("training/runs/<int:run_id>/cancel/", training_views.run_cancel_view, name="training-run-cancel"),
    path("training/runs/<int:run_id>/files/<str:name>", training_views.run_file, name="training-run-file"),
    path("training/scorers/", training_views.scorers, name="training-scorers"),
    path("training/benchmarks/", training_views.benchmarks, name="training-benchmarks"),
    path("training/benchmarks/<int:benchmark_id>/", training_views.benchmark_detail, name="training-benchmark"),
    # researcher statistics pages (area mos)
    path("research/", research.index, name="research"),
    path("research/<slug:slug>/", research.campaign_stats, name="research-campaign"),
    path("research/<slug:slug>/live/", live.live, name="research-live"),
    # admin approval desk (area scrutiny)
    path("desk/", desk.queue, name="desk"),
    path("desk/review/", desk.review_start, name="desk-review"),
    path("desk/reasons/", desk.reasons, name="desk-reasons"),
    path("desk/held/", desk.held, name="desk-held"),
    path("desk/flags/", desk.flags, name="desk-flags"),
    path("desk/batches/<int:batch_id>/", desk.batch_detail, name="desk-batch"),
    path("desk/annotators/<int:user_id>/", desk.annotator_detail, name="desk-annotator"),
    # admins: campaigns, content, golden set, accounts
    path("manage/", manage.index, name="manage"),
    path("manage/campaigns/new/", manage.campaign_new, name="manage-campaign-new"),
    path("manage/campaigns/<slug:slug>/", manage.campaign_edit, name="manage-campaign"),
    path("manage/campaigns/<slug:slug>/import/", manage.import_content, name="manage-import"),
    path("manage/campaigns/<slug:slug>/golden/", manage.golden, name="manage-golden"),
    path("manage/users/", manage.users, name="manage-users"),
    # researcher generation pages (area generation)
    path("generation/", generation.index, name="generation"),
    path("generation/jobs/<int:job_id>/", generation.job_page, name="generation-job"),
    path("generation/jobs/<int:job_id>/cancel/", generation.job_cancel_view, name="generation-job-cancel"),
    path("generation/jobs/<int:job_id>/review/", generation.job_review_view, name="generation-job-review"),
    path("generation/<slug:slug>/", generation.campaign_page, name="generation-campaign"),
    path("generation/<slug:slug>/prompts/", generation.prompts_import_view, name="generation-prompts-import"),
    path(
        "generation/<slug:slug>/prompts/<slug:set_slug>/classify/",
        generation.prompts_classify_view,
        name="generation-prompts-classify",
    ),
    path(
        "generation/<slug:slug>/generators/", generation.generator_register_view, name="generation-generator-register"
    ),
    path("generation/<slug:slug>/jobs/", generation.job_start_view, name="generation-job-start"),
]
