"""Benchmarks: several methods on one dataset version's split, written as the paper's tables.

A method is one table row: a registered scorer (``{"name", "scorer": id}``), a baseline
(``{"name", "kind": "clipscore", "path": "/models/clip"[, "head": ".../head.json"]}``, see
training.scorer.baselines) or an existing predictions CSV (``{"name", "kind": "predictions", "path"}``).
Text lines ``NAME=KIND:PATH`` (KIND = scorer, predictions or a baseline name; for scorer, PATH is its id) are
accepted too. Paths are read by the training worker, like registered scorers' folders.

`benchmark_execute` (the Celery task `training.execute_benchmark`, or in the foreground): export the version as
`sft` into the benchmark's folder once, run `training.scorer.benchmark.run_benchmark` there, keep
benchmark.json on the row. Re-delivered tasks leave a finished benchmark alone.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from django.conf import settings
from django.db import transaction

from annotation.models import DatasetVersion
from core import jobs as state
from core.errors import Conflict, InvalidInput, NotFound
from core.queue import task_named

from ..models import Benchmark, Scorer

log = logging.getLogger(__name__)
EXECUTE_TASK = "training.execute_benchmark"
SPLITS = ("test", "val", "train", "all")
MAX_BOOTSTRAP = 10_000


def _parse_line(line: str) -> dict:
    name, sep, rest = line.partition("=")
    kind, sep2, path = rest.partition(":")
    no_model = kind.strip() in ("niqe", "brisque")  # pyiqa's own parameter files
    if not (sep and sep2 and name.strip() and kind.strip() and (path.strip() or no_model)):
        raise InvalidInput(f"method {line!r}: write NAME=KIND:PATH (KIND = scorer, predictions or a baseline name)")
    kind, path = kind.strip(), path.strip()
    if kind == "scorer":
        return {"name": name.strip(), "scorer": path}
    head = None
    if kind != "predictions" and path.count(":") == 1:
        path, head = path.split(":", 1)
    return {"name": name.strip(), "kind": kind, "path": path, **({"head": head} if head else {})}


def methods_check(*, methods) -> list[dict]:
    """Normalised method list ({name, kind, path[, head][, scorer]}); InvalidInput names the bad one."""
    from training.scorer.baselines import CLIP_STYLE, NAMES

    if isinstance(methods, str):
        methods = [_parse_line(line) for line in methods.splitlines() if line.strip()]
    if not isinstance(methods, list) or not methods:
        raise InvalidInput("a benchmark needs at least one method")
    out, names = [], set()
    for m in methods:
        if not isinstance(m, dict) or not str(m.get("name") or "").strip():
            raise InvalidInput(f"every method needs a name (got {m!r})")
        name = str(m["name"]).strip()
        if name in names:
            raise InvalidInput(f"method name {name!r} is used twice")
        names.add(name)
        if m.get("scorer") not in (None, ""):
            try:
                scorer = Scorer.objects.get(pk=int(m["scorer"]), is_active=True)
            except (Scorer.DoesNotExist, ValueError, TypeError):
                raise InvalidInput(f"method {name!r}: scorer {m['scorer']} does not exist or is inactive") from None
            out.append({"name": name, "kind": "qeval", "path": scorer.path, "scorer": scorer.pk})
            continue
        kind = str(m.get("kind") or "").strip()
        if kind not in NAMES + ("predictions",):
            raise InvalidInput(
                f"method {name!r}: unknown kind {kind!r}; use a scorer id, 'predictions' or one of {', '.join(NAMES)}"
            )
        path = str(m.get("path") or "").strip()
        if not path and kind not in ("niqe", "brisque"):
            raise InvalidInput(f"method {name!r}: give the path of its model (or of its predictions CSV)")
        head = str(m.get("head") or "").strip() or None
        if head and kind not in CLIP_STYLE:
            raise InvalidInput(f"method {name!r}: only {', '.join(CLIP_STYLE)} take a fitted head")
        out.append({"name": name, "kind": kind, "path": path, **({"head": head} if head else {})})
    return out


@transaction.atomic
def benchmark_create(
    *, dataset_version_id, methods, split: str = "test", bootstrap: int | str = 1000, created_by=None
) -> Benchmark:
    """A queued benchmark; InvalidInput (nothing written) for a missing version, a bad split or method."""
    try:
        version = DatasetVersion.objects.select_related("campaign").get(pk=int(dataset_version_id))
    except (DatasetVersion.DoesNotExist, ValueError, TypeError):
        raise InvalidInput(f"dataset version {dataset_version_id} does not exist") from None
    if split not in SPLITS:
        raise InvalidInput(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    try:
        bootstrap = int(bootstrap)
    except (TypeError, ValueError):
        raise InvalidInput(f"bootstrap must be an integer (got {bootstrap!r})") from None
    if not 0 <= bootstrap <= MAX_BOOTSTRAP:
        raise InvalidInput(f"bootstrap must be between 0 and {MAX_BOOTSTRAP}")
    checked = methods_check(methods=methods)
    bench = Benchmark.objects.create(
        campaign=version.campaign,
        dataset_version=version,
        split=split,
        methods=checked,
        bootstrap=bootstrap,
        created_by=created_by,
        progress_total=len(checked),
        message="queued",
    )
    bench.output_dir = str(Path(settings.TRAINING_ROOT) / f"benchmark-{bench.pk:06d}")
    bench.save(update_fields=["output_dir"])
    return bench


def benchmark_enqueue(*, benchmark: Benchmark) -> Benchmark:
    """Send it to the `training` queue once the surrounding transaction commits."""
    bench_id = benchmark.pk

    def _send() -> None:
        try:
            task_named(EXECUTE_TASK).apply_async(args=(bench_id,))
        except Exception as exc:  # the broker is down: say so instead of leaving it queued forever
            state.transition_where(
                Benchmark,
                bench_id,
                Benchmark.Status.FAILED,
                sources=[Benchmark.Status.QUEUED],
                message="could not be queued",
                error=f"could not send the benchmark to the training queue: {exc}",
            )
            log.exception("benchmark %s could not be queued", bench_id)

    transaction.on_commit(_send)
    return benchmark


def benchmark_get(*, benchmark_id) -> Benchmark:
    try:
        return Benchmark.objects.select_related("campaign", "dataset_version", "created_by").get(pk=int(benchmark_id))
    except (Benchmark.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"benchmark {benchmark_id} does not exist") from None


def benchmark_execute(*, benchmark_id: int, on_progress=None) -> Benchmark | None:
    """Run a queued benchmark in this process; errors are recorded on the row (status failed), not raised."""
    with transaction.atomic():
        try:
            bench = Benchmark.objects.select_for_update().get(pk=benchmark_id)
        except Benchmark.DoesNotExist:
            return None
        if bench.is_finished:
            return bench
        fields = state.transition(bench, Benchmark.Status.RUNNING)
        bench.error, bench.message = "", "exporting the dataset version (sft)"
        bench.save(update_fields=fields + ["error", "message"])
    try:
        report = _run(bench, on_progress)
        _finish(bench, Benchmark.Status.SUCCEEDED, message=f"done: {len(bench.methods)} methods", report=report)
    except Exception as exc:  # recorded on the row; the worker goes on
        log.exception("benchmark %s failed", bench.pk)
        msg = (
            str(exc)
            if isinstance(exc, (ValueError, FileNotFoundError, InvalidInput))
            or type(exc).__name__ == "BaselineUnavailable"
            else traceback.format_exc()[-4000:]
        )
        _finish(bench, Benchmark.Status.FAILED, message="failed", error=msg)
    bench.refresh_from_db()
    return bench


def _run(bench: Benchmark, on_progress) -> dict:
    from training.scorer.benchmark import MethodSpec, run_benchmark  # torch: only on the training worker

    from .exporting import sft_export

    out = Path(bench.output_dir)
    export_dir = out / "export"
    if not (export_dir / "manifest.json").exists():
        sft_export(version=bench.dataset_version, out_dir=export_dir, created_by=bench.created_by)
    split = bench.split
    if split != "all" and not (export_dir / f"sft_{split}.jsonl").exists():
        raise ValueError(f"the export has no {split!r} split (TRAINING_EXPORT_SPLIT decides the splits)")
    specs = [
        MethodSpec(name=m["name"], kind=m["kind"], path=m.get("path", ""), head=m.get("head")) for m in bench.methods
    ]

    def progress(event: dict) -> None:
        if event.get("event") == "method":
            Benchmark.objects.filter(pk=bench.pk).update(
                progress_step=event["index"] - 1, message=f"scoring with {event['method']}"
            )
        if on_progress:
            on_progress(event)

    return run_benchmark(specs, export_dir, split=split, out_dir=out, bootstrap=bench.bootstrap, on_progress=progress)


def _finish(bench: Benchmark, status: str, *, message: str, error: str = "", report: dict | None = None) -> None:
    fields: dict = dict(message=message[:500], error=error)
    if report is not None:
        fields.update(report=report, progress_step=len(bench.methods))
    state.transition_where(Benchmark, bench.pk, status, **fields)


def benchmark_file(*, benchmark: Benchmark, fmt: str) -> Path:
    """The report file of a finished benchmark (html, md or json)."""
    if fmt not in ("html", "md", "json"):
        raise InvalidInput("format must be html, md or json")
    if benchmark.status != Benchmark.Status.SUCCEEDED:
        raise Conflict(f"benchmark {benchmark.pk} has no report yet ({benchmark.status})")
    path = Path(benchmark.output_dir) / f"benchmark.{fmt}"
    if not path.exists():
        raise NotFound(f"{path.name} of benchmark {benchmark.pk} is missing on disk")
    return path
