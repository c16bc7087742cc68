"""The generation worker's body: claim a batch of one generator's pending outputs, generate them in one pipeline
call, and write each as imports write content (probed, content-addressed, thumbnail or poster frame), then as
an item of the campaign, or as an output waiting for approval.

One code path for the Celery task on the `generation` queue and for `generate` in the foreground.

Claims: `SELECT ... FOR UPDATE SKIP LOCKED` on the job's open outputs of one generator (a partial index), so
many workers share a job without handing one output out twice. A claim is a lease (GENERATION_LEASE_S): an
output whose worker died is taken over once its claim is older than that. Every write after generating is
conditional on the output still being claimed by this worker, so a worker that was presumed dead and comes
back cannot write twice. Tasks are acks_late: a redelivered task just claims whatever is next.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import Item, MediaType
from annotation.services.imports import media_remove_unused, media_write_lock
from annotation.services.item_events import items_created
from annotation.services.media import MediaError, media_name, probe_image, probe_video, storage_put, thumbnail_name
from core import jobs as state
from generation.pipelines.spec import spec_from_dict

from ..models import GenerationJob, GenerationOutput, GeneratorSpec

log = logging.getLogger(__name__)
Status = GenerationJob.Status
OStatus = GenerationOutput.Status


class StillWorking(Exception):
    """Nothing to claim now, but other workers hold outputs of this generator: look again in `retry_in` s (their
    claims may expire)."""

    def __init__(self, retry_in: float):
        super().__init__(f"outputs are held by other workers; retry in {retry_in:.0f}s")
        self.retry_in = retry_in


@dataclass
class BatchResult:
    claimed: int = 0
    made: int = 0
    failed: int = 0
    finished: bool = False


def worker_name(celery_hostname: str | None = None) -> str:
    base = celery_hostname or socket.gethostname()
    return f"{base}:{os.getpid()}"[:200]


def models_root() -> Path:
    return Path(settings.GENERATION_ROOT) / "models"


def lease_seconds() -> float:
    """A running output whose claim is older than this (GENERATION_LEASE_S) has lost its worker."""
    return float(settings.GENERATION_LEASE_S)


def _claim(job: GenerationJob, generator_id: int, size: int, worker: str) -> list[GenerationOutput]:
    now = timezone.now()
    stale = now - timedelta(seconds=lease_seconds())
    with transaction.atomic():
        ids = list(
            GenerationOutput.objects.filter(job=job, generator_id=generator_id)
            .filter(Q(status=OStatus.PENDING) | Q(status=OStatus.RUNNING, claimed_at__lt=stale))
            .order_by("id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:size]
        )
        if ids:
            from django.db.models import F

            GenerationOutput.objects.filter(pk__in=ids).update(
                status=OStatus.RUNNING, worker=worker, claimed_at=now, attempts=F("attempts") + 1, error=""
            )
            state.transition_where(
                GenerationJob, job.pk, Status.RUNNING, sources=[Status.QUEUED], now=now, message="generating"
            )
    return list(GenerationOutput.objects.filter(pk__in=ids).select_related("prompt", "generator").order_by("id"))


def generation_batch_run(*, job_id: int, generator_id: int, worker: str | None = None) -> BatchResult:
    """Claim and make one batch of `generator_id`'s outputs in job `job_id`. Returns what happened; raises
    StillWorking when only other workers' live claims are left (the task retries later)."""
    worker = worker or worker_name()
    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is None or job.is_finished:
        return BatchResult(finished=True)
    if job.cancel_requested:
        job_finalize(job_id=job.pk)
        return BatchResult(finished=True)
    spec_row = GeneratorSpec.objects.filter(generator_id=generator_id).first()
    if spec_row is None or spec_row.kind != GeneratorSpec.Kind.DIFFUSERS:
        _fail_open(job, generator_id, "the generator has no diffusers spec any more")
        return BatchResult(finished=job_finalize(job_id=job.pk))
    spec = spec_from_dict(spec_row.spec)
    outputs = _claim(job, generator_id, spec.batch_size, worker)
    if not outputs:
        live = (
            GenerationOutput.objects.filter(job=job, generator_id=generator_id, status=OStatus.RUNNING)
            .order_by("claimed_at")
            .values_list("claimed_at", flat=True)
            .first()
        )
        if live is not None:
            raise StillWorking(max(5.0, lease_seconds() - (timezone.now() - live).total_seconds() + 1))
        return BatchResult(finished=job_finalize(job_id=job.pk))
    result = BatchResult(claimed=len(outputs))
    try:
        made = _generate(job, spec, outputs, worker)
    except Exception as exc:  # the pipeline failed: the whole batch fails with the reason; others go on
        log.exception("generation job %s: batch of generator %s failed", job.pk, generator_id)
        _mark_failed(outputs, worker, f"{type(exc).__name__}: {exc}"[:2000], traceback.format_exc()[-3000:])
        result.failed = len(outputs)
    else:
        result.made, result.failed = made, len(outputs) - made
    result.finished = job_finalize(job_id=job.pk)
    return result


def _generate(job: GenerationJob, spec, outputs: list[GenerationOutput], worker: str) -> int:
    from generation.pipelines.runner import generate_batch, load_pipeline, runtime_info

    loaded = load_pipeline(spec, tiny_root=models_root())
    started_at = timezone.now()
    t0 = time.perf_counter()
    drawn = generate_batch(loaded, spec, [o.prompt.text for o in outputs], [o.seed for o in outputs])
    seconds = time.perf_counter() - t0
    finished_at = timezone.now()
    runtime = {**runtime_info(loaded), "worker": worker}
    base = {
        "model": spec.model,
        "revision": spec.revision or None,
        "variant": spec.variant or None,
        **loaded.info,
        "params": spec.as_dict(),
        "call": spec.pipeline_kwargs(),
        "generator_device": "cpu",
        "batch": {"size": len(outputs), "seconds": round(seconds, 4)},
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "runtime": runtime,
        "job": job.pk,
    }
    with tempfile.TemporaryDirectory(prefix="qeval-gen-") as tmp:
        ready, problems = [], {}
        for index, (output, drawn_one) in enumerate(zip(outputs, drawn)):
            stem = f"{output.pk}"
            try:
                path = drawn_one.write(tmp, stem, fps=spec.fps)
                probe = probe_video if spec.media_type == MediaType.VIDEO else probe_image
                thumb = Path(tmp) / f"{stem}.thumb.jpg"
                info = probe(path, thumbnail_to=thumb)
            except (MediaError, OSError, ValueError) as exc:
                problems[output.pk] = f"could not write the output: {exc}"
                continue
            provenance = {**base, "seed": output.seed, "batch": {**base["batch"], "index": index}}
            ready.append((output, path, thumb, info, provenance))
        _mark_failed([o for o in outputs if o.pk in problems], worker, None, problems=problems)
        return _store(job, ready, worker, seconds / max(1, len(outputs)), finished_at)


def _store(job, ready, worker, per_output_s, finished_at) -> int:
    """Store files and write rows for the outputs still claimed by this worker. Returns how many were written."""
    if not ready:
        return 0
    created: list[str] = []
    made = 0
    with media_write_lock():
        try:
            for _, path, thumb, info, _ in ready:
                for name, source in ((media_name(info.sha256, info.ext), path), (thumbnail_name(info.sha256), thumb)):
                    if storage_put(name=name, source=source):
                        created.append(name)
            with transaction.atomic():
                mine = set(
                    GenerationOutput.objects.select_for_update()
                    .filter(pk__in=[o.pk for o, *_ in ready], status=OStatus.RUNNING, worker=worker)
                    .values_list("id", flat=True)
                )
                campaign = job.campaign
                rows = [r for r in ready if r[0].pk in mine]
                item_ids = {r[0].pk: _item_id(r[0]) for r in rows}
                taken = set(
                    Item.objects.filter(campaign=campaign, item_id__in=list(item_ids.values())).values_list(
                        "item_id", flat=True
                    )
                )
                items = {}
                if not job.review:
                    new_items = [
                        Item(
                            campaign=campaign,
                            item_id=item_ids[o.pk],
                            media_type=o.generator.media_type,
                            media=media_name(info.sha256, info.ext),
                            thumbnail=thumbnail_name(info.sha256),
                            width=info.width,
                            height=info.height,
                            duration=info.duration,
                            fps=info.fps,
                            sha256=info.sha256,
                            prompt_id=o.prompt_id,
                            generator_id=o.generator_id,
                            target=campaign.target_for(o.generator.media_type),
                        )
                        for o, _, _, info, _ in rows
                        if item_ids[o.pk] not in taken
                    ]
                    items = {i.item_id: i.pk for i in Item.objects.bulk_create(new_items)}
                    items_created(campaign=campaign, item_ids=list(items.values()))
                for output, _, _, info, provenance in rows:
                    fields = dict(
                        media=media_name(info.sha256, info.ext),
                        thumbnail=thumbnail_name(info.sha256),
                        media_type=output.generator.media_type,
                        sha256=info.sha256,
                        width=info.width,
                        height=info.height,
                        duration=info.duration,
                        fps=info.fps,
                        provenance=provenance,
                        finished_at=finished_at,
                        gen_seconds=round(per_output_s, 4),
                        error="",
                    )
                    if item_ids[output.pk] in taken:
                        fields.update(
                            status=OStatus.FAILED,
                            error=f"item_id {item_ids[output.pk]!r} is already in the "
                            "campaign (imported under that id?)",
                        )
                    elif job.review:
                        fields.update(status=OStatus.REVIEW)
                        made += 1
                    else:
                        fields.update(status=OStatus.DONE, item_id=items[item_ids[output.pk]])
                        made += 1
                    GenerationOutput.objects.filter(pk=output.pk).update(**fields)
        except BaseException:  # nothing was written: remove the files this batch stored, unless used
            media_remove_unused(names=_unreferenced(created))
            raise
    return made


def _unreferenced(names: list[str]) -> list[str]:
    """Of the files this batch stored, those no output waiting for approval refers to (items are checked by
    media_remove_unused itself)."""
    used = set(GenerationOutput.objects.filter(status=OStatus.REVIEW, media__in=names).values_list("media", flat=True))
    used |= set(
        GenerationOutput.objects.filter(status=OStatus.REVIEW, thumbnail__in=names).values_list("thumbnail", flat=True)
    )
    return [n for n in names if n not in used]


def _item_id(output: GenerationOutput) -> str:
    """The item's external id: readable and fixed by (generator, prompt, seed), so it can never be made twice."""
    return f"{output.generator.name}-p{output.prompt_id}-s{output.seed}"[:200]


def _mark_failed(outputs, worker: str, error: str | None, detail: str = "", *, problems: dict | None = None) -> None:
    for output in outputs:
        message = (problems or {}).get(output.pk) or error or "failed"
        GenerationOutput.objects.filter(pk=output.pk, status=OStatus.RUNNING, worker=worker).update(
            status=OStatus.FAILED, error=message[:2000], finished_at=timezone.now()
        )


def _fail_open(job: GenerationJob, generator_id: int, reason: str) -> None:
    GenerationOutput.objects.filter(job=job, generator_id=generator_id, status__in=[OStatus.PENDING]).update(
        status=OStatus.FAILED, error=reason, finished_at=timezone.now()
    )


def job_finalize(*, job_id: int) -> bool:
    """Finish the job when nothing is pending or in flight (or, once cancelled, nothing in flight). True when it is
    finished now."""
    counts = dict(
        GenerationOutput.objects.filter(job_id=job_id)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is None:
        return True
    if job.is_finished:
        return True
    running, pending, failed = (
        counts.get(OStatus.RUNNING, 0),
        counts.get(OStatus.PENDING, 0),
        counts.get(OStatus.FAILED, 0),
    )
    if running or (pending and not job.cancel_requested):
        return False
    made = sum(counts.get(s, 0) for s in GenerationOutput.MADE)
    if job.cancel_requested:
        status, message = Status.CANCELLED, f"cancelled: {made} made, {pending} left pending, {failed} failed"
    elif failed:
        status, message = Status.FAILED, f"{made} made, {failed} failed (run generate again to retry them)"
    else:
        status, message = (
            Status.SUCCEEDED,
            f"{made} made"
            + (f", {counts.get(OStatus.REVIEW, 0)} waiting for approval" if counts.get(OStatus.REVIEW) else ""),
        )
    state.transition_where(GenerationJob, job_id, status, message=message)
    return True


def generation_job_run_here(*, job: GenerationJob, on_batch=None, worker: str | None = None) -> GenerationJob:
    """Run a whole job in this process, batch after batch (the `generate` command without --enqueue): the same
    service the workers call. `on_batch(result)` is called after each batch (progress bars)."""
    worker = worker or worker_name()
    generator_ids = list(job.generators.values_list("id", flat=True))
    for generator_id in generator_ids:
        while True:
            try:
                result = generation_batch_run(job_id=job.pk, generator_id=generator_id, worker=worker)
            except StillWorking:
                break  # other processes hold the rest; they finish it
            if on_batch:
                on_batch(result)
            if result.claimed == 0 or result.finished:
                break
    job_finalize(job_id=job.pk)
    job.refresh_from_db()
    return job


__all__ = ["StillWorking", "generation_batch_run", "generation_job_run_here", "job_finalize", "worker_name"]
