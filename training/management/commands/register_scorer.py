"""Register a scorer checkpoint folder, or build and register the tiny demo model.

manage.py register_scorer --path /models/qeval-score --name qeval-7b [--base-model Qwen/Qwen2-VL-7B-Instruct]
manage.py register_scorer --tiny          # tiny random Qwen2-VL under TRAINING_ROOT, name "tiny-demo"
"""

from __future__ import annotations

from core.errors import InvalidInput
from core.management.base import ServiceCommand
from training.services.scorers import TINY_DEMO_NAME, scorer_register, scorer_register_tiny


class Command(ServiceCommand):
    help = "Register a scorer (a model folder) for the scoring API, or the tiny demo model with --tiny."

    def add_arguments(self, parser):
        parser.add_argument("--path", help="Model directory (config.json + weights + tokenizer).")
        parser.add_argument("--name", help=f"Scorer name (default for --tiny: {TINY_DEMO_NAME}).")
        parser.add_argument("--base-model", default="", help="Base model it was fine-tuned from (for the record).")
        parser.add_argument(
            "--tiny", action="store_true", help="Build the tiny random model (needs torch) and register it."
        )

    def handle(self, *args, path, name, base_model, tiny, **options):
        if tiny == bool(path):
            raise InvalidInput("give either --path DIR --name NAME, or --tiny")
        if tiny:
            scorer = scorer_register_tiny(name=name or TINY_DEMO_NAME)
        else:
            scorer = scorer_register(name=name or "", path=path, base_model=base_model)
        self.stdout.write(f"scorer {scorer.pk} ({scorer.name}) at {scorer.path}")
