"""The training run page: a loss chart with axis titles, a grid and a mark per evaluation; the last
evaluation's predictions and report as downloads instead of a server path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from annotation.models import DatasetVersion
from tests.browser import login
from tests.factories import CampaignFactory
from tests.frontend.browser_checks import check_page
from training.models import TrainingRun
from training.services.runs import EVALUATIONS, eval_point, run_create

REPORT = {"quality": {"all": {"instance": {"srcc": 0.777, "plcc": 0.7, "n": 12}, "model": {"srcc": 0.5, "n": 3}}}}


def finished_run(tmp_name: str) -> TrainingRun:
    version = DatasetVersion.objects.create(
        campaign=CampaignFactory.create(), number=1, method="mean", checksum="x" * 64
    )
    run = run_create(kind="train", dataset_version_id=version.pk, config={})
    eval_dir = Path(settings.TRAINING_ROOT) / tmp_name / "model" / "eval" / "epoch-001"
    eval_dir.mkdir(parents=True, exist_ok=True)
    (eval_dir / "predictions.csv").write_text(
        "item_id,generator,media_type,dimension,mos,prediction\nx,g,image,quality,3,3.2\n"
    )
    (eval_dir / "report.json").write_text(json.dumps(REPORT))
    curve = [{"step": s, "loss": 3.0 - 0.4 * s, "lr": 0.001} for s in range(1, 7)]
    metrics = {
        **REPORT,
        EVALUATIONS: [eval_point(step=3, epoch=1, metrics=REPORT), eval_point(step=6, epoch=2, metrics=REPORT)],
    }
    TrainingRun.objects.filter(pk=run.pk).update(
        status="succeeded",
        progress_step=6,
        progress_total=6,
        loss_curve=curve,
        metrics=metrics,
        predictions_path=str(eval_dir / "predictions.csv"),
    )
    return run


def test_eval_points_keep_the_srcc_per_dimension():
    assert eval_point(step=4, epoch=1, metrics=REPORT) == {"step": 4, "epoch": 1, "srcc": {"quality": 0.777}}


@pytest.mark.django_db
def test_predictions_and_report_are_downloads(make_user, tmp_path):
    from django.test import Client

    run = finished_run("dl")
    client = Client()
    client.force_login(make_user("researcher"))
    html = client.get(f"/training/runs/{run.pk}/").content.decode()
    assert f"/training/runs/{run.pk}/files/predictions.csv" in html and str(settings.TRAINING_ROOT) not in html
    response = client.get(f"/training/runs/{run.pk}/files/report.json")
    assert response.status_code == 200 and json.loads(b"".join(response.streaming_content)) == REPORT
    assert response["Content-Disposition"] == f'attachment; filename="run-{run.pk}-report.json"'
    assert client.get(f"/training/runs/{run.pk}/files/config.json").status_code == 404
    TrainingRun.objects.filter(pk=run.pk).update(predictions_path="/etc/passwd")
    assert client.get(f"/training/runs/{run.pk}/files/predictions.csv").status_code == 404  # never outside the root


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_loss_chart_has_axes_a_grid_and_evaluation_marks(page, live_server, make_user):
    from playwright.sync_api import expect

    run = finished_run("chart")
    login(page, live_server, make_user("researcher").username)
    page.goto(f"{live_server.url}/training/runs/{run.pk}/")
    chart = page.locator("#loss-curve")
    expect(chart.locator("polyline.curve")).to_have_count(1)
    expect(chart.locator("text.axis-title")).to_have_text(["optimizer step", "loss"])
    assert chart.locator(".grid line").count() >= 6
    marks = chart.locator("path.eval-point")
    expect(marks).to_have_count(3)  # two evaluations and the legend's mark
    assert "evaluation after epoch 2 (step 6): quality SRCC 0.777" in marks.nth(1).locator("title").text_content()
    check_page(page, "training-run", axe=True)
    assert page.console_errors == []
