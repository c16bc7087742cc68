"""The researcher's training pages: who may see them, the launch form, a run's page."""

from __future__ import annotations

import pytest

from annotation.models import DatasetVersion
from tests.factories import UserFactory
from training.models import Scorer, TrainingRun
from training.services.runs import run_create


@pytest.fixture
def researcher_client(client, db):
    user = UserFactory(role="researcher")
    client.force_login(user)
    return client


@pytest.fixture
def version(db, campaign):
    return DatasetVersion.objects.create(campaign=campaign, number=4, method="mean", checksum="x" * 64)


@pytest.mark.django_db
def test_annotators_get_403_on_training_pages(client):
    client.force_login(UserFactory(role="annotator"))
    for url in ("/training/", "/training/scorers/"):
        assert client.get(url).status_code == 403
    home = client.get("/").content.decode()
    assert 'href="/training/"' not in home


@pytest.mark.django_db
def test_runs_page_has_the_launch_form_with_a_default_config(researcher_client, version):
    page = researcher_client.get("/training/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{version.campaign.slug} v4" in html and 'name="config"' in html and "model_name_or_path:" in html
    assert 'href="/training/"' in html  # the nav link


@pytest.mark.django_db
def test_launch_form_shows_the_reason_for_a_bad_config_and_creates_nothing(researcher_client, version):
    resp = researcher_client.post(
        "/training/", {"kind": "train", "dataset_version": version.pk, "config": "epochs: 1\nbogus_key: 3\n"}
    )
    assert resp.status_code == 400
    assert "bogus_key" in resp.content.decode()
    assert TrainingRun.objects.count() == 0


@pytest.mark.django_db
def test_launch_form_queues_a_run_and_redirects_to_it(researcher_client, version, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        resp = researcher_client.post(
            "/training/", {"kind": "train", "dataset_version": version.pk, "config": "epochs: 2\n"}
        )
    run = TrainingRun.objects.get()
    assert resp.status_code == 302 and resp.url == f"/training/runs/{run.pk}/"
    assert run.config == {"epochs": 2} and len(callbacks) == 1


@pytest.mark.django_db
def test_run_page_shows_progress_metrics_and_cancel(researcher_client, version):
    run = run_create(kind="train", dataset_version_id=version.pk, config={})
    report = {
        "quality": {
            "all": {
                "instance": {"srcc": 0.812, "plcc": 0.79, "plcc_logistic": 0.8, "krcc": 0.6, "rmse": 0.4, "n": 30},
                "model": {"srcc": 0.9, "plcc": 0.88, "n": 4},
            }
        },
        "_meta": {},
    }
    TrainingRun.objects.filter(pk=run.pk).update(
        status="running",
        progress_step=5,
        progress_total=10,
        metrics=report,
        loss_curve=[{"step": 1, "loss": 2.0, "lr": 0.1}],
    )
    html = researcher_client.get(f"/training/runs/{run.pk}/").content.decode()
    assert "width: 50%" in html and "0.812" in html and "Cancel run" in html and 'id="loss-curve"' in html
    resp = researcher_client.post(f"/training/runs/{run.pk}/cancel/")
    assert resp.status_code == 302
    assert TrainingRun.objects.get(pk=run.pk).cancel_requested


@pytest.mark.django_db
def test_scorers_page_lists_scorers_and_reports_a_bad_upload(researcher_client, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    (tmp_path / "config.json").write_text("{}")
    scorer = Scorer.objects.create(name="listed-scorer", path=str(tmp_path))
    assert "listed-scorer" in researcher_client.get("/training/scorers/").content.decode()
    resp = researcher_client.post(
        "/training/scorers/",
        {"scorer": scorer.pk, "prompt": "x", "media": SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")},
    )
    assert resp.status_code == 400 and "not a readable image or video" in resp.content.decode()
