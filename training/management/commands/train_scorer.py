"""Train (or evaluate) the scorer on a dataset version, in the foreground with a progress bar, or
--enqueue'd to the `training` queue.

    manage.py train_scorer --version 3 --config scorer.yaml            # foreground, tqdm bar
    manage.py train_scorer --version 3 --config scorer.yaml --enqueue  # prints the run id
    manage.py train_scorer --version 3 --kind evaluate --scorer 2      # evaluate a registered scorer
"""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from tqdm import tqdm

from core.errors import InvalidInput
from core.management.base import CommandError, ServiceCommand
from training.services.configs import config_from_yaml
from training.services.runs import run_create, run_enqueue, run_execute


class Command(ServiceCommand):
    help = "Train or evaluate the scorer on a dataset version (same service as the API and the Celery task)."

    def add_base_argument(self, parser, *args, **kwargs):
        # `--version` here is the dataset version (the researcher's word for it), not Django's version flag.
        if "--version" in args:
            return
        super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--version", required=True, type=int, dest="version_id", help="DatasetVersion id.")
        parser.add_argument("--config", help="YAML file of scorer settings (ScorerConfig fields).")
        parser.add_argument("--kind", choices=["train", "evaluate"], default="train")
        parser.add_argument("--scorer", type=int, help="Registered scorer id (evaluate).")
        parser.add_argument(
            "--enqueue", action="store_true", help="Hand the run to the training queue and print its id."
        )

    def handle(self, *args, version_id, config, kind, scorer, enqueue, **options):
        data = {}
        if config:
            path = Path(config)
            if not path.is_file():
                raise InvalidInput(f"config file {path} does not exist")
            data = config_from_yaml(text=self.read_utf8(config))
        with transaction.atomic():
            run = run_create(kind=kind, dataset_version_id=version_id, config=data, scorer_id=scorer)
            if enqueue:
                run_enqueue(run=run)
        if enqueue:
            self.stdout.write(f"run {run.pk} queued on the training queue; follow it at /training/runs/{run.pk}/")
            self.stdout.write(str(run.pk))
            return
        bar = tqdm(total=0, desc=f"{kind} run {run.pk}", unit="step", file=self.stderr._out, dynamic_ncols=True)

        def on_progress(event: dict) -> None:
            total = event.get("total_steps") or event.get("total_batches")
            done = event.get("step") if "total_steps" in event else event.get("batch")
            if total and bar.total != total:
                bar.total = total
            if done is not None:
                bar.n = done
            if event.get("loss") is not None:
                bar.set_postfix(loss=f"{event['loss']:.4f}")
            bar.refresh()

        try:
            finished = run_execute(run_id=run.pk, on_progress=on_progress)
        finally:
            bar.close()
        run = finished or run  # None: the run was finished already (nothing to do)
        if run.status != run.Status.SUCCEEDED:
            reason = (run.error.strip().splitlines() or [run.message])[-1]
            raise CommandError(f"run {run.pk} {run.status}: {reason}")
        scorer_row = run.scorers.order_by("-id").first()
        self.stdout.write(
            f"run {run.pk} succeeded"
            + (
                f"; scorer {scorer_row.pk} ({scorer_row.name}) at {scorer_row.path}"
                if scorer_row
                else f"; predictions at {run.predictions_path}"
            )
        )
