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
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.models import DatasetVersion
from annotation.services.outbox import outbox_enqueue, outbox_pending
from core import jobs as state
from core.errors import Conflict, InvalidInput, NotFound, ServiceError
from core.events import TRAINING_FINISHED, announce
from core.jobs import Heartbeat, active_jobs_check

from ..models import LOSS_CURVE_MAX_POINTS, Scorer, TrainingRun
from .configs import config_validate, default_base_model, platform_keys

log = logging.getLogger(__name__)

Status = TrainingRun.Status
ProgressCallback = Callable[[dict], None]


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
    *,
    kind: str,
    dataset_version_id,
    config: dict | None = None,
    scorer_id=None,
    created_by=None,
    export_split: str = "",
) -> TrainingRun:
    """A queued run. InvalidInput (400) for an unknown kind, a missing version, a bad config or an
    evaluation without an active scorer; nothing is written then."""
    if kind not in TrainingRun.Kind.values:
        raise InvalidInput(f"kind must be one of {', '.join(TrainingRun.Kind.values)}, got {kind!r}")
    if created_by is not None:
        active_jobs_check(user=created_by)  # 429 past QEVAL_MAX_ACTIVE_JOBS_PER_USER
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
        kind=kind,
        campaign=version.campaign,
        dataset_version=version,
        scorer=scorer,
        config=config,
        base_model=base_model,
        created_by=created_by,
        message="queued",
        export_split=export_split,
    )
    run.output_dir = str(Path(settings.TRAINING_ROOT) / f"run-{run.pk:06d}")
    run.save(update_fields=["output_dir"])
    return run


def run_enqueue(*, run: TrainingRun) -> TrainingRun:
    """Send the run to the `training` queue once the surrounding transaction commits, through the outbox
    (annotation/services/outbox.py): a broker that is down delays the run, the relay sends it later."""
    with transaction.atomic():
        message = outbox_enqueue(task=EXECUTE_TASK, args=[run.pk], key=f"training:run:{run.pk}")
        TrainingRun.objects.filter(pk=run.pk, celery_task_id="").update(celery_task_id=message.task_id)
    return run


EXECUTE_TASK = "training.execute_run"


def runs_sweep(*, now=None) -> dict[str, list[int]]:
    """Recover runs whose worker died whole: a running run whose heartbeat is older than
    TRAINING_HEARTBEAT_STALE_S goes back to the queue (it resumes from its last checkpoint) until
    JOB_MAX_ATTEMPTS starts, then fails with the reason; a run still queued JOB_QUEUED_RESEND_S after its
    message went out is sent again. Returns {"requeued", "failed", "resent"} run ids."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.TRAINING_HEARTBEAT_STALE_S)
    requeued, failed = [], []
    with transaction.atomic():
        for run in (
            TrainingRun.objects.select_for_update(skip_locked=True)
            .filter(status=Status.RUNNING, heartbeat_at__lt=stale)
            .order_by("id")[:100]
        ):
            if run.attempts >= settings.JOB_MAX_ATTEMPTS:
                fields = state.transition(run, Status.FAILED, now=now)
                run.message = "failed"
                run.error = (
                    f"its worker stopped responding {run.attempts} time(s) (last heartbeat "
                    f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC); gave up after {settings.JOB_MAX_ATTEMPTS} "
                    "attempts"
                )
                run.save(update_fields=fields + ["message", "error"])
                failed.append(run.pk)
                continue
            fields = state.transition(run, Status.QUEUED, now=now)
            run.message = f"re-queued: its worker stopped responding (last heartbeat {run.heartbeat_at:%H:%M:%S} UTC)"
            run.save(update_fields=fields + ["message"])
            run_enqueue(run=run)
            requeued.append(run.pk)
    resend_before = now - timedelta(seconds=settings.JOB_QUEUED_RESEND_S)
    resent = []
    for run_id in (
        TrainingRun.objects.filter(status=Status.QUEUED, created_at__lt=resend_before)
        .order_by("id")
        .values_list("id", flat=True)[:100]
    ):
        if not outbox_pending(key=f"training:run:{run_id}", since=resend_before):
            run_enqueue(run=TrainingRun(pk=run_id))
            resent.append(run_id)
    if requeued or failed or resent:
        log.warning("training run sweep: re-queued %s, failed %s, republished %s", requeued, failed, resent)
    return {"requeued": requeued, "failed": failed, "resent": resent}


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
        fields += state.transition(run, Status.CANCELLED)
        run.message = "cancelled before it started"
        fields.append("message")
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
    beat = Heartbeat(
        lambda: TrainingRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(heartbeat_at=timezone.now()),
        every_s=settings.TRAINING_HEARTBEAT_S,
        name=f"heartbeat-run-{run.pk}",
    )
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
            fields = state.transition(run, Status.CANCELLED, now=now)
            run.message = "cancelled"
            run.save(update_fields=fields + ["message"])
            transaction.on_commit(lambda: _announce(run.pk))
            return None
        stale_s = settings.TRAINING_HEARTBEAT_STALE_S
        if run.status == Status.RUNNING and run.heartbeat_at and (now - run.heartbeat_at).total_seconds() < stale_s:
            raise StillRunning(stale_s - (now - run.heartbeat_at).total_seconds() + 1)
        resumed = run.attempts > 0  # a lost worker's run (taken over, or re-queued by the sweep)
        if resumed and run.attempts >= settings.JOB_MAX_ATTEMPTS:
            fields = state.transition(run, Status.FAILED, now=now)
            run.message = "failed"
            run.error = (
                f"its worker stopped responding {run.attempts} time(s); gave up after "
                f"{settings.JOB_MAX_ATTEMPTS} attempts"
            )
            run.save(update_fields=fields + ["message", "error"])
            return None
        fields = state.transition(run, Status.RUNNING, now=now)
        run.attempts += 1
        run.heartbeat_at = now
        run.error = ""
        run.message = "resuming after a lost worker" if resumed else "starting"
        run.save(update_fields=fields + ["attempts", "heartbeat_at", "error", "message"])
    return run, resumed


def _ensure_export(run: TrainingRun) -> Path:
    """The run's sft export, written once (a re-delivered task reuses a complete one)."""
    from .exporting import sft_export

    export_dir = Path(run.output_dir) / "export"
    if not (export_dir / "manifest.json").exists():
        _set(run, message="exporting the dataset version (sft)")
        info = sft_export(
            version=run.dataset_version, out_dir=export_dir, created_by=run.created_by, split=run.export_split or None
        )
        run.export_job_id = info.job_id
    run.export_dir = str(export_dir)
    TrainingRun.objects.filter(pk=run.pk).update(export_dir=run.export_dir, export_job_id=run.export_job_id)
    return export_dir


def _train(run: TrainingRun, export_dir: Path, *, resumed: bool, on_progress: ProgressCallback | None) -> None:
    from training.scorer.config import ScorerConfig
    from training.scorer.train import train  # torch: only on the training worker

    model_dir = Path(run.output_dir) / "model"
    data = {**run.config, **platform_keys(data_dir=str(export_dir), output_dir=str(model_dir))}
    data.setdefault("model_name_or_path", run.base_model)
    if "eval_split" not in run.config:
        data["eval_split"] = _nonempty_split(export_dir, ("val", "test"))
    cfg = ScorerConfig.from_dict(data)
    base_model_check(name=str(cfg.model_name_or_path))
    recorder = _Recorder(run, on_progress)
    _set(run, message="training" + (" (resumed)" if resumed else ""))
    result = train(cfg, on_progress=recorder, should_stop=_StopFlag(run.pk))
    recorder.flush()
    if result.stopped:
        if _cancel_requested(run.pk):
            _finish(run, Status.CANCELLED, message=f"cancelled at step {result.global_step}; checkpoint kept")
        else:
            _finish(
                run,
                Status.FAILED,
                message="stopped early",
                error=f"training stopped at step {result.global_step} (max_train_seconds) before the final "
                f"export; the checkpoint is {result.checkpoint_dir}",
            )
        return
    metrics = dict(result.metrics or recorder.metrics)
    if recorder.evaluations:
        metrics[EVALUATIONS] = recorder.evaluations  # the loss chart's evaluation marks
    with transaction.atomic():
        # The scorer is registered only with the run's success (both or neither).
        if _finish(
            run,
            Status.SUCCEEDED,
            message=f"done: {result.global_step} steps",
            metrics=metrics,
            predictions_path=recorder.predictions_path,
            step=result.global_step,
            total=result.total_steps,
        ):
            Scorer.objects.update_or_create(
                name=f"{run.campaign.slug}-v{run.dataset_version.number}-run{run.pk}",
                defaults=dict(
                    path=str(result.final_dir),
                    base_model=str(cfg.model_name_or_path),
                    training_run=run,
                    metrics=metrics,
                    created_by=run.created_by,
                    is_active=True,
                ),
            )


def _evaluate(run: TrainingRun, export_dir: Path, *, on_progress: ProgressCallback | None) -> None:
    from training.scorer.predict import evaluate_checkpoint  # torch: only on the training worker

    split = pick_eval_split(export_dir)
    recorder = _Recorder(run, on_progress, cancel_check=_StopFlag(run.pk))
    scorer = run.scorer
    if scorer is None:
        raise InvalidInput(f"evaluation run {run.pk} has no scorer")
    _set(run, message=f"scoring split {split!r} with scorer {scorer.name}")
    res = evaluate_checkpoint(
        scorer.path,
        export_dir,
        split=split,
        out_dir=Path(run.output_dir) / "eval",
        overrides={**(run.config or {}), **platform_keys()},
        on_progress=recorder,
    )
    recorder.flush()
    _finish(
        run,
        Status.SUCCEEDED,
        message=f"evaluated {len(res.rows)} predictions on split {split!r}",
        metrics=res.report,
        predictions_path=str(res.predictions_path or ""),
    )


def base_model_check(*, name: str) -> None:
    """InvalidInput naming the model when it is neither a local folder nor in this worker's Hugging Face cache
    and QEVAL_ALLOW_HUB_DOWNLOADS is off: workers never reach for the Hub unless a setting allows it."""
    if Path(name).expanduser().is_dir() or settings.QEVAL_ALLOW_HUB_DOWNLOADS:
        return
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(name, local_files_only=True)
    except Exception:
        raise InvalidInput(
            f"base model {name!r} is not on this worker: it is no local folder and not in the Hugging Face cache, "
            "and downloads from the Hub are off (QEVAL_ALLOW_HUB_DOWNLOADS=false); give a local folder as "
            "config.model_name_or_path, put the model in the workers' cache, or allow downloads"
        ) from None


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
    for split, name in (
        ("test", "sft_test.jsonl"),
        ("all", "sft.jsonl"),
        ("val", "sft_val.jsonl"),
        ("train", "sft_train.jsonl"),
    ):
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

    def __init__(
        self,
        run: TrainingRun,
        forward: ProgressCallback | None,
        *,
        every_s: float = 1.0,
        cancel_check: Callable[[], bool] | None = None,
    ):
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
            self.curve.append(
                {
                    "step": self.step,
                    "loss": _num(event.get("loss")),
                    "lr": _num(event.get("lr")),
                    "epoch": event.get("epoch"),
                }
            )
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
            self.evaluations.append(
                eval_point(
                    step=int(event.get("step") or self.step),
                    epoch=event.get("epoch"),
                    metrics=event.get("metrics") or {},
                )
            )
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
            progress_step=self.step,
            progress_total=self.total,
            loss_curve=self.curve,
            metrics=self.metrics,
            message=self.message[:500],
            heartbeat_at=timezone.now(),
        )
        self._last = time.monotonic()


class _StopFlag:
    """should_stop for the scorer: reads cancel_requested, at most once a second (first call always)."""

    def __init__(self, run_id: int, every_s: float = 1.0):
        self.run_id, self.every_s = run_id, every_s
        self._last: float | None = None
        self._value = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if self._last is None or now - self._last >= self.every_s:
            self._value = _cancel_requested(self.run_id)
            self._last = now
        return self._value


def _cancel_requested(run_id: int) -> bool:
    return bool(TrainingRun.objects.filter(pk=run_id).values_list("cancel_requested", flat=True).first())


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


def _finish(
    run: TrainingRun,
    status: str,
    *,
    message: str = "",
    error: str = "",
    metrics: dict | None = None,
    predictions_path: str | None = None,
    step: int | None = None,
    total: int | None = None,
) -> bool:
    """The run's end. A finished status is final: False (nothing written) when the run had finished already
    (the sweep gave up on it while this worker was still at it)."""
    fields: dict[str, Any] = dict(message=message[:500], error=error)
    if metrics is not None:
        fields["metrics"] = metrics
    if predictions_path is not None:
        fields["predictions_path"] = predictions_path
    if step is not None:
        fields["progress_step"] = step
    if total is not None:
        fields["progress_total"] = total
    landed = state.transition_where(TrainingRun, run.pk, status, **fields)
    if landed:
        _announce(run.pk)
    return landed


def _announce(run_id: int) -> None:
    """Tell webhook receivers the run finished (whatever its outcome), from the row as stored."""
    announce(TRAINING_FINISHED, run=TrainingRun.objects.select_related("campaign").get(pk=run_id))
