"""Training and evaluation runs in-process (eager Celery) on the tiny model over a small rated version:
the export, the loss curve, metrics, the registered scorer, cancel, and resuming after a lost worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from training.models import Scorer, TrainingRun
from training.services.runs import run_cancel, run_create, run_execute
from training.services.scorers import scorer_register

pytest.importorskip("torch")


class WorkerDied(BaseException):
    """Stands in for a worker killed mid-run: not an Exception, so nothing records it as a failure."""


@pytest.mark.django_db
def test_train_run_through_the_api_finishes_with_curve_metrics_and_a_scorer(
    client_as, rated_version, tiny_config, django_capture_on_commit_callbacks
):
    client, user = client_as("researcher")
    with django_capture_on_commit_callbacks(execute=True):  # eager: the task runs in this process
        resp = client.post(
            "/api/v1/training-runs/",
            {"kind": "train", "dataset_version": rated_version.pk, "config": tiny_config},
            format="json",
        )
    assert resp.status_code == 202, resp.content
    run = TrainingRun.objects.get(pk=resp.json()["id"])
    assert run.status == "succeeded", run.error
    assert run.progress_step == run.progress_total == 2
    assert [p["step"] for p in run.loss_curve] == [1, 2]
    assert all(p["loss"] > 0 for p in run.loss_curve)
    # Epoch-end evaluation on the version's held-out split: the report's shape, per dimension.
    assert set(run.metrics) >= {"quality", "alignment"}
    assert run.metrics["quality"]["image"]["instance"]["n"] >= 1
    assert Path(run.predictions_path).is_file()
    # The export went through the platform's exporter as a Job.
    assert (Path(run.export_dir) / "manifest.json").is_file()
    assert run.export_job.kind == "dataset_export" and run.export_job.status == "succeeded"
    scorer = Scorer.objects.get(training_run=run)
    assert scorer.metrics == run.metrics and (Path(scorer.path) / "config.json").is_file()
    assert scorer.base_model == tiny_config["model_name_or_path"]

    detail = client.get(f"/api/v1/training-runs/{run.pk}/").json()
    assert detail["registered_scorer"]["id"] == scorer.pk
    assert detail["loss_curve"][0]["step"] == 1
    # A re-delivered task for a finished run changes nothing.
    assert run_execute(run_id=run.pk) is None
    assert TrainingRun.objects.get(pk=run.pk).attempts == 1 and Scorer.objects.count() == 1


@pytest.mark.django_db
def test_cancel_stops_a_running_run_with_a_checkpoint(rated_version, tiny_config):
    run = run_create(
        kind="train", dataset_version_id=rated_version.pk, config={**tiny_config, "max_steps": 6, "batch_size": 2}
    )

    def cancel_at_first_step(event):
        if event.get("event") == "step" and event["step"] == 1:
            run_cancel(run_id=run.pk)  # what the API's cancel does while the worker trains

    run = run_execute(run_id=run.pk, on_progress=cancel_at_first_step)
    assert run.status == "cancelled", run.error
    assert run.progress_step == 1 and run.progress_total == 6
    assert list((Path(run.output_dir) / "model" / "checkpoints").glob("step-000001"))
    assert not Scorer.objects.filter(training_run=run).exists()


@pytest.mark.django_db
def test_a_run_whose_worker_died_resumes_from_its_last_checkpoint(rated_version, tiny_config):
    run = run_create(
        kind="train",
        dataset_version_id=rated_version.pk,
        config={**tiny_config, "max_steps": 3, "batch_size": 2, "save_steps": 1},
    )

    def die_at_step_2(event):
        if event.get("event") == "step" and event["step"] == 2:
            raise WorkerDied()

    with pytest.raises(WorkerDied):
        run_execute(run_id=run.pk, on_progress=die_at_step_2)
    run.refresh_from_db()
    assert run.status == "running" and run.attempts == 1
    # The broker re-delivers once the heartbeat is stale.
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(hours=1))
    events = []
    run = run_execute(run_id=run.pk, on_progress=events.append)
    assert run.status == "succeeded", run.error
    assert run.attempts == 2
    resumed = [e for e in events if e["event"] == "resumed"]
    assert resumed and resumed[0]["step"] == 1 and resumed[0]["path"].endswith("step-000001")
    assert [e["step"] for e in events if e["event"] == "step"] == [2, 3]
    assert [p["step"] for p in run.loss_curve] == [1, 2, 3]
    assert Scorer.objects.filter(training_run=run).count() == 1


@pytest.mark.django_db
def test_evaluate_command_scores_the_test_split_and_stores_metrics(rated_version, tiny_model_dir, capsys):
    scorer = scorer_register(name="tiny", path=tiny_model_dir)
    call_command("train_scorer", "--version", str(rated_version.pk), "--kind", "evaluate", "--scorer", str(scorer.pk))
    run = TrainingRun.objects.get()
    assert run.status == "succeeded" and run.kind == "evaluate", run.error
    assert "succeeded" in capsys.readouterr().out
    assert run.metrics["quality"]["all"]["instance"]["n"] >= 1
    assert run.metrics["alignment"]["all"]["model"] is not None
    lines = Path(run.predictions_path).read_text().splitlines()
    assert lines[0].startswith("item_id,") and len(lines) == 1 + 2 * run.metrics["quality"]["all"]["instance"]["n"]


@pytest.mark.django_db
def test_train_command_fails_with_one_line_for_an_unknown_key(rated_version, tmp_path):
    from django.core.management.base import CommandError

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("epochz: 3\n")
    with pytest.raises(CommandError, match="epochz"):
        call_command("train_scorer", "--version", str(rated_version.pk), "--config", str(cfg))
    assert TrainingRun.objects.count() == 0


def test_the_training_app_imports_no_torch_at_import_time():
    import subprocess
    import sys

    code = (
        "import os, sys; sys.path[:0] = ['.', 'platform']; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.test';"
        "import django; django.setup(); import training.api, training.tasks, training.admin, frontend.views.training;"
        "from django.core.management import load_command_class as l; l('training', 'train_scorer');"
        "l('training', 'register_scorer'); print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.django_db
def test_train_command_in_the_foreground_registers_a_scorer(rated_version, tiny_config, tmp_path, capsys):
    import yaml

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({**tiny_config, "max_steps": 1, "eval_split": None}))
    call_command("train_scorer", "--version", str(rated_version.pk), "--config", str(cfg))
    run = TrainingRun.objects.get()
    assert run.status == "succeeded" and run.progress_step == 1, run.error
    scorer = Scorer.objects.get(training_run=run)
    assert f"scorer {scorer.pk}" in capsys.readouterr().out


@pytest.mark.django_db
def test_train_command_enqueue_prints_the_run_id(rated_version, capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("train_scorer", "--version", str(rated_version.pk), "--enqueue")
    run = TrainingRun.objects.get()
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(run.pk)
    assert run.status == "queued" and len(callbacks) == 1
