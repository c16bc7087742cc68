"""The researcher's training pages: runs + launch form, a run's progress (polls the REST API every 2 s and
draws the loss curve as an SVG polyline), and registered scorers with a "score an upload" form.

Same services as the API and the `train_scorer` command; researchers and admins only.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.selectors.research import version_choices
from core.errors import ServiceError
from core.roles import ADMIN, RESEARCHER
from training import selectors
from training.services.benchmarks import benchmark_create, benchmark_enqueue, benchmark_get
from training.services.configs import config_from_yaml, default_config_yaml
from training.services.runs import run_cancel, run_create, run_enqueue
from training.services.scorers import Upload, scorer_get, scorer_score_uploads

from ..access import role_required

METRIC_KEYS = ("srcc", "plcc", "plcc_logistic", "krcc", "rmse", "n")
researcher_required = role_required(RESEARCHER, ADMIN, message="Training pages are for researchers and admins.")


def metrics_rows(report: dict | None) -> list[dict]:
    """report.json -> table rows: one per dimension x media type (all/image/video), instance and model level."""
    rows = []
    for dim, by_media in (report or {}).items():
        if dim.startswith("_") or not isinstance(by_media, dict):
            continue
        for media, levels in by_media.items():
            if not isinstance(levels, dict) or "instance" not in levels:
                continue
            inst, model = levels.get("instance") or {}, levels.get("model") or {}
            rows.append(
                {
                    "dimension": dim,
                    "media": media,
                    "instance": [inst.get(k) for k in METRIC_KEYS],
                    "model": [model.get(k) for k in ("srcc", "plcc", "n")],
                }
            )
    return rows


@researcher_required
def runs(request):
    """Runs list and the launch form (POST launches: the run goes to the training queue)."""
    form = {"kind": "train", "dataset_version": "", "scorer": "", "config": default_config_yaml()}
    error, status = "", 200
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        try:
            config = config_from_yaml(text=form["config"])
            with transaction.atomic():
                run = run_create(
                    kind=form["kind"],
                    dataset_version_id=form["dataset_version"] or None,
                    config=config,
                    scorer_id=form["scorer"] or None if form["kind"] == "evaluate" else None,
                    created_by=request.user,
                )
                run_enqueue(run=run)
            return redirect("training-run", run_id=run.pk)
        except ServiceError as exc:
            error, status = exc.message, 400
    return render(
        request,
        "frontend/training/runs.html",
        {
            "runs": selectors.run_list()[:100],
            "versions": version_choices(),
            "scorers": selectors.scorer_list(),
            "form": form,
            "error": error,
        },
        status=status,
    )


@researcher_required
def run_detail(request, run_id: int):
    run = selectors.run_detail(run_id=run_id)
    if run is None:
        raise Http404("No such training run.")
    curve = run.loss_curve or []
    return render(
        request,
        "frontend/training/run.html",
        {
            "run": run,
            "metrics_rows": metrics_rows(run.metrics),
            "scorer": next(iter(run.scorers.all()), None),
            "percent": int(100 * run.progress_step / run.progress_total) if run.progress_total else 0,
            "has_curve": bool(curve),
            "files": [n for n in selectors.RUN_FILES if selectors.run_file_path(run=run, name=n)],
        },
    )


@researcher_required
@require_POST
def run_cancel_view(request, run_id: int):
    try:
        run_cancel(run_id=run_id)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("training-run", run_id=run_id)


@researcher_required
def run_file(request, run_id: int, name: str):
    """predictions.csv or report.json of the run's last evaluation, as a download."""
    run = selectors.run_detail(run_id=run_id)
    path = selectors.run_file_path(run=run, name=name) if run is not None else None
    if path is None:
        raise Http404(f"Run {run_id} has no {name} (yet).")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"run-{run_id}-{name}")


@researcher_required
def scorers(request):
    """Registered scorers, and a form that scores uploaded files with one of them."""
    scorer_list = list(selectors.scorer_list())
    results, error, status = None, "", 200
    chosen = request.POST.get("scorer", "") if request.method == "POST" else ""
    prompt = request.POST.get("prompt", "") if request.method == "POST" else ""
    if request.method == "POST":
        try:
            scorer = scorer_get(scorer_id=chosen)
            uploads = [Upload(name=f.name, file=f) for f in request.FILES.getlist("media")]
            results = scorer_score_uploads(
                scorer=scorer, uploads=uploads, prompt=prompt, media_type=request.POST.get("media_type") or None
            )
        except ServiceError as exc:
            error, status = exc.message, 400
    return render(
        request,
        "frontend/training/scorers.html",
        {
            "scorers": scorer_list,
            "results": results,
            "error": error,
            "chosen": chosen,
            "prompt": prompt,
        },
        status=status,
    )


BENCHMARK_EXAMPLE = (
    "# one method per line: NAME=KIND:PATH\n"
    "# KIND: scorer (PATH = a registered scorer's id), predictions (a CSV), or a baseline:\n"
    "# clipscore, pickscore, hpsv2, blip2-itm, vqascore, imagereward, clip-iqa, q-align, niqe, brisque\n"
    "# a CLIP-style baseline with :fit after its path is fine-tuned on the train split first\n"
)


@researcher_required
def benchmarks(request):
    """Benchmarks list and the launch form (methods as NAME=KIND:PATH lines)."""
    scorer_list = list(selectors.scorer_list()[:20])
    default = BENCHMARK_EXAMPLE + "".join(f"{s.name}=scorer:{s.pk}\n" for s in scorer_list[:3])
    form = {"dataset_version": "", "split": "test", "bootstrap": "1000", "methods": default}
    error, status = "", 200
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        lines = "\n".join(x for x in form["methods"].splitlines() if x.strip() and not x.lstrip().startswith("#"))
        try:
            with transaction.atomic():
                bench = benchmark_create(
                    dataset_version_id=form["dataset_version"] or None,
                    methods=lines,
                    split=form["split"] or "test",
                    bootstrap=form["bootstrap"] or 1000,
                    created_by=request.user,
                )
                benchmark_enqueue(benchmark=bench)
            return redirect("training-benchmark", benchmark_id=bench.pk)
        except ServiceError as exc:
            error, status = exc.message, 400
    items = selectors.benchmark_list()
    return render(
        request,
        "frontend/training/benchmarks.html",
        {
            "benchmarks": items,
            "versions": version_choices(),
            "form": form,
            "error": error,
            "scorers": scorer_list,
        },
        status=status,
    )


@researcher_required
def benchmark_detail(request, benchmark_id: int):
    """Status while it runs (the page reloads itself), then the report (tables, intervals, plots) inline."""
    from pathlib import Path

    try:
        bench = benchmark_get(benchmark_id=benchmark_id)
    except ServiceError:
        raise Http404("No such benchmark.") from None
    report_html = ""
    path = Path(bench.output_dir) / "benchmark.html"
    if bench.status == "succeeded" and path.exists():
        report_html = path.read_text()
    return render(request, "frontend/training/benchmark.html", {"bench": bench, "report_html": report_html})
