"""The run page in real Chromium: it polls the API, draws the loss curve and moves the progress bar,
and shows the metrics once the run finishes."""

from __future__ import annotations

import pytest

from annotation.models import DatasetVersion
from tests.browser import login
from tests.factories import CampaignFactory
from training.models import TrainingRun
from training.services.runs import run_create


@pytest.mark.browser
def test_run_page_follows_a_run_to_its_end(page, live_server, make_user):
    from playwright.sync_api import expect

    user = make_user("researcher")
    version = DatasetVersion.objects.create(campaign=CampaignFactory(), number=1, method="mean", checksum="x" * 64)
    run = run_create(kind="train", dataset_version_id=version.pk, config={})
    TrainingRun.objects.filter(pk=run.pk).update(
        status="running",
        progress_step=1,
        progress_total=4,
        message="training: step 1/4",
        loss_curve=[{"step": 1, "loss": 2.5, "lr": 0.001}],
    )
    login(page, live_server, user.username)
    page.goto(f"{live_server.url}/training/runs/{run.pk}/")
    expect(page.locator("#run-status")).to_have_text("running")

    TrainingRun.objects.filter(pk=run.pk).update(
        progress_step=3,
        message="training: step 3/4",
        loss_curve=[
            {"step": 1, "loss": 2.5, "lr": 0.001},
            {"step": 2, "loss": 1.9, "lr": 0.001},
            {"step": 3, "loss": 1.2, "lr": 0.001},
        ],
    )
    expect(page.locator("#run-message")).to_have_text("training: step 3/4")
    expect(page.locator("#run-bar")).to_have_attribute("style", "width: 75%;")
    points = page.locator("#loss-curve polyline.curve").get_attribute("points").split()
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] < ys[1] < ys[2]  # falling loss: the line goes down the screen (SVG y grows downwards)

    report = {
        "quality": {
            "all": {
                "instance": {"srcc": 0.777, "plcc": 0.7, "plcc_logistic": 0.71, "krcc": 0.6, "rmse": 0.5, "n": 12},
                "model": {"srcc": 0.5, "plcc": 0.4, "n": 3},
            }
        }
    }
    TrainingRun.objects.filter(pk=run.pk).update(
        status="succeeded", progress_step=4, metrics=report, message="done: 4 steps"
    )
    expect(page.locator("table.metrics")).to_contain_text("0.777")  # reloaded: metrics are server-side
    expect(page.locator("#run-status")).to_have_text("succeeded")
    assert page.console_errors == []
