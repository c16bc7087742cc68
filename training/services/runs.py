"""Training and evaluation runs: create, enqueue, cancel, and the worker's body (`run_execute`).

One code path for the Celery task on the `training` queue and the `train_scorer` command in the
foreground. A run's folder is TRAINING_ROOT/run-NNNNNN with:

    export/   the dataset version in the `sft` format (written once, reused by a re-delivered task)
    model/    the scorer's output_dir: checkpoints/, final/, eval/, tensorboard/ (train runs)
    eval/     predictions.csv + report.json (evaluate runs)

Idempotent and safe to re-deliver (acks_late): a finished run is left alone; a run another worker is
still heart-beating is retried later; a run whose worker died (stale heartbeat) is taken over and
resumes from its last checkpoint (the scorer's `resume_from="latest"`).
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from annotation.models import DatasetVersion
from annotation.services.errors import Conflict, InvalidInput, NotFound, ServiceError

from ..models import LOSS_CURVE_MAX_POINTS, Scorer, TrainingRun
from .configs import config_validate, default_base_model

log = logging.getLogger(__name__)

Status = TrainingRun.Status
ProgressCallback = Callable[[dict], None]


def heartbeat_every_s() -> float:
    return float(getattr(settings, "TRAINING_HEARTBEAT_S", 20))


def heartbeat_stale_s() -> float:
    """A running run whose heartbeat is older than this is taken to have lost its worker."""
    return float(getattr(settings, "TRAINING_HEARTBEAT_STALE_S", 120))


class StillRunning(Exception):
    """Another worker is alive on this run: retry the delivery later (seconds in `.retry_in`)."""

    def __init__(self, retry_in: float):
        super().__init__(f"run is alive on another worker; retry in {retry_in:.0f}s")
        self.retry_in = retry_in


class _Cancelled(Exception):
    """Raised from a progress callback to abort an evaluation when cancel was requested."""


# --- create / enqueue / cancel -------------------------------------------------------------------------


@transaction.atomic
def run_create(
    *, kind: str, dataset_version_id, config: dict | None = None, scorer_id=None, created_by=None
) -> TrainingRun:
    """A queued run. InvalidInput (400) for an unknown kind, a missing version, a bad config or an
    evaluation without an active scorer; nothing is written then."""
    if kind not in TrainingRun.Kind.values:
        raise InvalidInput(f"kind must be one of {', '.join(TrainingRun.Kind.values)}, got {kind!r}")
    if dataset_version_id in (None, ""):
        raise InvalidInput("dataset_version is required")
    try:
        version = DatasetVersion.objects.select_related("campaign").get(pk=int(dataset_version_id))
    except (DatasetVersion.DoesNotExist, ValueError, TypeError):
        raise InvalidInput(f"dataset version {dataset_version_id} does not exist") from None
    config = config_validate(config=config)
    scorer = None
    if kind == TrainingRun.Kind.EVALUATE:
        if scorer_id in (None, ""):
            raise InvalidInput("an evaluation needs a scorer (the id of a registered scorer)")
        try:
            scorer = Scorer.objects.get(pk=int(scorer_id), is_active=True)
        except (Scorer.DoesNotExist, ValueError, TypeError):
            raise InvalidInput(f"scorer {scorer_id} does not exist or is inactive") from None
        base_model = scorer.base_model or scorer.path
    else:
        if scorer_id not in (None, ""):
            raise InvalidInput("a training run takes no scorer (give the base model as config.model_name_or_path)")
        base_model = str(config.get("model_name_or_path") or default_base_model())
    run = TrainingRun.objects.create(
        kind=kind, campaign=version.campaign, dataset_version=version, scorer=scorer, config=config,
        base_model=base_model, created_by=created_by, message="queued",
    )
    run.output_dir = str(Path(settings.TRAINING_ROOT) / f"run-{run.pk:06d}")
    run.save(update_fields=["output_dir"])
    return run


def run_enqueue(*, run: TrainingRun) -> TrainingRun:
    """Send the run to the `training` queue once the surrounding transaction commits."""
    run_id = run.pk

    def _send() -> None:
        from ..tasks import execute_run

        try:
            result = execute_run.apply_async(args=(run_id,))
        except Exception as exc:  # the broker is down: say so on the run instead of leaving it queued forever
            if TrainingRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
                status=Status.FAILED, finished_at=timezone.now(), message="could not be queued",
                error=f"could not send the run to the training queue: {exc}",
            ):
                log.exception("training run %s could not be queued", run_id)
                return
            raise
        # Eager mode has already run it; a worker may have started it: only fill the id in.
        TrainingRun.objects.filter(pk=run_id, celery_task_id="").update(celery_task_id=result.id or "")

    transaction.on_commit(_send)
    return run


@transaction.atomic
def run_cancel(*, run_id) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops at its next step (with a checkpoint).
    Conflict (409) when it has already finished."""
    try:
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
    except (TrainingRun.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"training run {run_id} does not exist") from None
    if run.is_finished:
        raise Conflict(f"run {run.pk} has already finished ({run.status})")
    run.cancel_requested = True
    fields = ["cancel_requested"]
    if run.status == Status.QUEUED:
        run.status, run.finished_at, run.message = Status.CANCELLED, timezone.now(), "cancelled before it started"
        fields += ["status", "finished_at", "message"]
    else:
        run.message = "cancel requested; stopping at the next step"
        fields.append("message")
    run.save(update_fields=fields)
    if run.status == Status.CANCELLED:
        _announce(run.pk)
    return run


# --- the worker's body ----------------------------------------------------------------------------------


def run_execute(*, run_id: int, on_progress: ProgressCallback | None = None) -> TrainingRun | None:
    """Run a queued run to its end in this process; returns the run (None when there was nothing to do).

    Errors are recorded on the run (status failed, `error`), not raised: the caller reads the status.
    StillRunning is raised when another worker holds the run (the task retries later).
    """
    claimed = _claim(run_id)
    if claimed is None:
        return None
    run, resumed = claimed
    beat = _Heartbeat(run.pk, heartbeat_every_s())
    beat.start()
    try:
        export_dir = _ensure_export(run)
        if run.kind == TrainingRun.Kind.TRAIN:
            _train(run, export_dir, resumed=resumed, on_progress=on_progress)
        else:
            _evaluate(run, export_dir, on_progress=on_progress)
    except _Cancelled:
        _finish(run, Status.CANCELLED, message="cancelled")
    except ServiceError as exc:
        _finish(run, Status.FAILED, error=exc.message, message="failed")
    except Exception:  # recorded with its traceback; the worker goes on with the next task
        log.exception("training run %s failed", run.pk)
        _finish(run, Status.FAILED, error=traceback.format_exc()[-4000:], message="failed")
    finally:
        beat.stop()
    run.refresh_from_db()
    return run


def _claim(run_id: int) -> tuple[TrainingRun, bool] | None:
    now = timezone.now()
    with transaction.atomic():
        try:
            run = TrainingRun.objects.select_for_update().get(pk=run_id)
        except TrainingRun.DoesNotExist:
            log.warning("training run %s does not exist (deleted?); nothing to do", run_id)
            return None
        if run.is_finished:
            return None
        if run.cancel_requested:
            run.status, run.finished_at, run.message = Status.CANCELLED, now, "cancelled"
            run.save(update_fields=["status", "finished_at", "message"])
            _announce(run.pk)
            return None
        resumed = run.status == Status.RUNNING
        if resumed and run.heartbeat_at and (now - run.heartbeat_at).total_seconds() < heartbeat_stale_s():
            raise StillRunning(heartbeat_stale_s() - (now - run.heartbeat_at).total_seconds() + 1)
        run.status = Status.RUNNING
        run.attempts += 1
        run.heartbeat_at = now
        run.started_at = run.started_at or now
        run.error = ""
        run.message = "resuming after a lost worker" if resumed else "starting"
        run.save(update_fields=["status", "attempts", "heartbeat_at", "started_at", "error", "message"])
    return run, resumed


def _ensure_export(run: TrainingRun) -> Path:
    """The run's sft export, written once (a re-delivered task reuses a complete one)."""
    from .exporting import sft_export

    export_dir = Path(run.output_dir) / "export"
    if not (export_dir / "manifest.json").exists():
        _set(run, message="exporting the dataset version (sft)")
        info = sft_export(version=run.dataset_version, out_dir=export_dir, created_by=run.created_by)
        run.export_job_id = info.job_id
    run.export_dir = str(export_dir)
    TrainingRun.objects.filter(pk=run.pk).update(export_dir=run.export_dir, export_job_id=run.export_job_id)
    return export_dir


def _train(run: TrainingRun, export_dir: Path, *, resumed: bool, on_progress: ProgressCallback | None) -> None:
    from training.scorer.config import ScorerConfig
    from training.scorer.train import train  # torch: only on the training worker

    model_dir = Path(run.output_dir) / "model"
    data = {**run.config, "data_dir": str(export_dir), "output_dir": str(model_dir), "resume_from": "latest"}
    data.setdefault("model_name_or_path", run.base_model)
    if "eval_split" not in run.config:
        data["eval_split"] = _nonempty_split(export_dir, ("val", "test"))
    cfg = ScorerConfig.from_dict(data)
    recorder = _Recorder(run, on_progress)
    _set(run, message="training" + (" (resumed)" if resumed else ""))
    result = train(cfg, on_progress=recorder, should_stop=_StopFlag(run.pk))
    recorder.flush()
    if result.stopped:
        if _cancel_requested(run.pk):
            _finish(run, Status.CANCELLED, message=f"cancelled at step {result.global_step}; checkpoint kept")
        else:
            _finish(run, Status.FAILED, message="stopped early",
                    error=f"training stopped at step {result.global_step} (max_train_seconds) before the final "
                          f"export; the checkpoint is {result.checkpoint_dir}")
        return
    metrics = dict(result.metrics or recorder.metrics)
    if recorder.evaluations:
        metrics[EVALUATIONS] = recorder.evaluations  # the loss chart's evaluation marks
    with transaction.atomic():
        Scorer.objects.update_or_create(
            name=f"{run.campaign.slug}-v{run.dataset_version.number}-run{run.pk}",
            defaults=dict(path=str(result.final_dir), base_model=str(cfg.model_name_or_path), training_run=run,
                          metrics=metrics, created_by=run.created_by, is_active=True),
        )
        _finish(run, Status.SUCCEEDED, message=f"done: {result.global_step} steps", metrics=metrics,
                predictions_path=recorder.predictions_path, step=result.global_step, total=result.total_steps)


def _evaluate(run: TrainingRun, export_dir: Path, *, on_progress: ProgressCallback | None) -> None:
    from training.scorer.predict import evaluate_checkpoint  # torch: only on the training worker

    split = pick_eval_split(export_dir)
    recorder = _Recorder(run, on_progress, cancel_check=_StopFlag(run.pk))
    _set(run, message=f"scoring split {split!r} with scorer {run.scorer.name}")
    res = evaluate_checkpoint(run.scorer.path, export_dir, split=split, out_dir=Path(run.output_dir) / "eval",
                              overrides=run.config or None, on_progress=recorder)
    recorder.flush()
    _finish(run, Status.SUCCEEDED, message=f"evaluated {len(res.rows)} predictions on split {split!r}",
            metrics=res.report, predictions_path=str(res.predictions_path or ""))


def _nonempty_split(export_dir: Path, names: tuple[str, ...]) -> str | None:
    """The first split whose file has records (small versions can leave val empty): the epoch-end
    evaluation then uses test, or none at all."""
    for name in names:
        path = Path(export_dir) / f"sft_{name}.jsonl"
        if path.exists() and path.stat().st_size > 0:
            return name
    return None


def pick_eval_split(export_dir: Path) -> str:
    """The test split when the export has a non-empty one; else the whole export (`all`); else val/train."""
    for split, name in (("test", "sft_test.jsonl"), ("all", "sft.jsonl"), ("val", "sft_val.jsonl"),
                        ("train", "sft_train.jsonl")):
        path = Path(export_dir) / name
        if path.exists() and path.stat().st_size > 0:
            return split
    raise InvalidInput(f"the export {export_dir} has no records to evaluate on")


# --- progress, cancel, heartbeat ------------------------------------------------------------------------


# metrics[EVALUATIONS]: every evaluation during training, [{"step", "epoch", "srcc": {dimension: value}}], for the
# marks on the loss chart. The rest of `metrics` is the last evaluation's report (keys starting with "_" are not
# dimensions).
EVALUATIONS = "_evaluations"


def eval_point(*, step: int, epoch, metrics: dict) -> dict:
    """One evaluation's mark: instance-level SRCC per dimension over all media."""
    srcc = {}
    for dim, by_media in (metrics or {}).items():
        inst = ((by_media or {}).get("all") or {}).get("instance") if isinstance(by_media, dict) else None
        if isinstance(inst, dict) and inst.get("srcc") is not None:
            srcc[dim] = _num(inst["srcc"])
    return {"step": step, "epoch": epoch, "srcc": srcc}


def thin_curve(points: list[dict], limit: int = LOSS_CURVE_MAX_POINTS) -> list[dict]:
    """Keep at most `limit` points: drop every other one (never the last) until it fits."""
    while len(points) > limit:
        points = points[:-1][::2] + points[-1:]
    return points


class _Recorder:
    """on_progress for the scorer: loss points, progress and metrics to the run row (throttled)."""

    def __init__(self, run: TrainingRun, forward: ProgressCallback | None, *, every_s: float = 1.0,
                 cancel_check: Callable[[], bool] | None = None):
        self.run_id = run.pk
        self.forward = forward
        self.every_s = every_s
        self.cancel_check = cancel_check
        self.curve: list[dict] = list(run.loss_curve or [])
        self.metrics: dict = dict(run.metrics or {})
        self.evaluations: list[dict] = list(self.metrics.get(EVALUATIONS) or [])
        self.step, self.total = run.progress_step, run.progress_total
        self.message = ""
        self.predictions_path = ""
        self._last = 0.0

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        force = False
        if kind == "step":
            self.step, self.total = int(event["step"]), int(event.get("total_steps") or self.total)
            self.curve.append({"step": self.step, "loss": _num(event.get("loss")), "lr": _num(event.get("lr")),
                               "epoch": event.get("epoch")})
            self.curve = thin_curve(self.curve)
            self.message = f"training: step {self.step}/{self.total}"
        elif kind == "resumed":
            # Points logged after the checkpoint were lost with the worker; they come again.
            self.step = int(event.get("step") or 0)
            self.total = int(event.get("total_steps") or self.total)
            self.curve = [p for p in self.curve if p["step"] <= self.step]
            self.evaluations = [p for p in self.evaluations if p["step"] <= self.step]
            self.message, force = f"resumed from step {self.step}", True
        elif kind == "eval":
            self.evaluations.append(eval_point(step=int(event.get("step") or self.step), epoch=event.get("epoch"),
                                               metrics=event.get("metrics") or {}))
            self.metrics = {**(event.get("metrics") or {}), EVALUATIONS: self.evaluations}
            if event.get("path"):
                self.predictions_path = str(Path(event["path"]) / "predictions.csv")
            self.message, force = f"evaluated after epoch {event.get('epoch')}", True
        elif kind == "checkpoint":
            self.message, force = f"checkpoint at step {event.get('step')}", True
        elif kind == "predict":
            self.step, self.total = int(event["batch"]), int(event["total_batches"])
            self.message = f"scoring: batch {self.step}/{self.total}"
            if self.cancel_check and self.cancel_check():
                raise _Cancelled()
        if self.forward:
            self.forward(event)
        if force or time.monotonic() - self._last >= self.every_s:
            self.flush()

    def flush(self) -> None:
        TrainingRun.objects.filter(pk=self.run_id).update(
            progress_step=self.step, progress_total=self.total, loss_curve=self.curve, metrics=self.metrics,
            message=self.message[:500], heartbeat_at=timezone.now(),
        )
        self._last = time.monotonic()


class _StopFlag:
    """should_stop for the scorer: reads cancel_requested, at most once a second (first call always)."""

    def __init__(self, run_id: int, every_s: float = 1.0):
        self.run_id, self.every_s = run_id, every_s
        self._last, self._value = None, False

    def __call__(self) -> bool:
        now = time.monotonic()
        if self._last is None or now - self._last >= self.every_s:
            self._value = _cancel_requested(self.run_id)
            self._last = now
        return self._value


def _cancel_requested(run_id: int) -> bool:
    return bool(TrainingRun.objects.filter(pk=run_id).values_list("cancel_requested", flat=True).first())


class _Heartbeat:
    """Marks the run alive every few seconds from a thread, also during export and evaluation."""

    def __init__(self, run_id: int, every_s: float):
        self.run_id, self.every_s = run_id, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-run-{run_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.every_s):
                TrainingRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(heartbeat_at=timezone.now())
        except Exception:  # a lost database connection must not kill the run; the next beat retries
            log.warning("heartbeat of run %s failed", self.run_id, exc_info=True)
        finally:
            connection.close()  # this thread's own connection


# --- small helpers ---------------------------------------------------------------------------------------


def _num(value) -> float | None:
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        return None


def _set(run: TrainingRun, **fields) -> None:
    for k, v in fields.items():
        setattr(run, k, v)
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now(), **fields)


def _finish(run: TrainingRun, status: str, *, message: str = "", error: str = "", metrics: dict | None = None,
            predictions_path: str | None = None, step: int | None = None, total: int | None = None) -> None:
    fields = dict(status=status, finished_at=timezone.now(), message=message[:500], error=error)
    if metrics is not None:
        fields["metrics"] = metrics
    if predictions_path is not None:
        fields["predictions_path"] = predictions_path
    if step is not None:
        fields["progress_step"] = step
    if total is not None:
        fields["progress_total"] = total
    TrainingRun.objects.filter(pk=run.pk).update(**fields)
    _announce(run.pk)


def _announce(run_id: int) -> None:
    """Tell webhook receivers the run finished (whatever its outcome), from the row as stored."""
    from webhooks.events import training_finished

    training_finished(run=TrainingRun.objects.select_related("campaign").get(pk=run_id))
