"""Celery tasks of the training app, on the `training` queue (CELERY_TASK_ROUTES sends "training.*"
there). Thin: load by id, call the service. acks_late, so a worker that dies mid-run hands the message
back; the service makes the repeat safe (finished runs are left alone, a lost worker's run resumes from
its last checkpoint, a run still alive elsewhere is retried later).

torch/transformers are imported inside the services' functions, never here.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="training.execute_run", bind=True, acks_late=True, max_retries=None)
def execute_run(self, run_id: int) -> str | None:
    from .services.runs import StillRunning, run_execute

    try:
        run = run_execute(run_id=run_id)
    except StillRunning as exc:
        raise self.retry(countdown=max(5, int(exc.retry_in))) from None
    return run.status if run is not None else None


@shared_task(name="training.score_batch", acks_late=True)
def score_batch(scorer_id: int, items: list[dict], out_path: str) -> str:
    """Score many items (media paths the worker can read) and write JSONL to out_path."""
    from .services.scorers import scorer_score_batch

    return str(scorer_score_batch(scorer_id=scorer_id, items=items, out_path=out_path))


@shared_task(name="training.execute_benchmark", acks_late=True)
def execute_benchmark(benchmark_id: int) -> str | None:
    """Run a benchmark (every method on the version's split, then the report)."""
    from .services.benchmarks import benchmark_execute

    bench = benchmark_execute(benchmark_id=benchmark_id)
    return bench.status if bench is not None else None


@shared_task(name="training.screen_items", acks_late=True)
def screen_items(campaign_id: int, item_ids: list[int]) -> dict:
    """Pre-score new items with the campaign's screening scorer (idempotent)."""
    from .services.screening import screening_run

    return screening_run(campaign_id=campaign_id, item_ids=item_ids)


@shared_task(name="training.closed_loop_tick", acks_late=True)
def closed_loop_tick() -> dict:
    """Periodic (beat): retraining rounds move on, value-selection priorities follow the scorer."""
    from .services.retraining import closed_loop_tick as tick

    return tick()


@shared_task(name="training.ping")
def ping(hold_s: float = 0.0) -> str:
    """Is a training worker listening? `celery -A config call training.ping` shows up in its log. Holding it
    for a few seconds (at most 60) shows that platform jobs do not wait for the training queue."""
    import socket
    import time

    time.sleep(max(0.0, min(float(hold_s), 60.0)))
    return socket.gethostname()
