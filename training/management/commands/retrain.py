import json

from annotation.services.campaigns import campaign_get
from core.management.base import ServiceCommand

from ...services.configs import config_from_yaml
from ...services.retraining import approved_ratings, retrain_policy_set, retrain_tick


class Command(ServiceCommand):
    help = (
        "Set a campaign's retraining policy (--config), and/or move it on now (--tick): retrain when approved "
        "ratings grow by --growth, promote only if better by --margin."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True)
        parser.add_argument("--config", help="Scorer config (YAML or JSON file) for the training runs.")
        parser.add_argument("--growth", type=float, default=0.2)
        parser.add_argument("--margin", type=float, default=0.01)
        parser.add_argument("--min-ratings", type=int, default=100)
        parser.add_argument("--tick", action="store_true", help="Start a round when due, or advance the open one.")

    def handle(self, *args, campaign, config, growth, margin, min_ratings, tick, **options):
        camp = campaign_get(slug=campaign)
        if config:
            retrain_policy_set(
                campaign=camp,
                config=config_from_yaml(text=self.read_utf8(config)),
                growth=growth,
                margin=margin,
                min_ratings=min_ratings,
            )
            self.stdout.write(
                f"retraining policy of {camp.slug}: every +{growth:.0%} approved ratings "
                f"(from {min_ratings}), promote at +{margin:g} SRCC"
            )
        policy = getattr(camp, "retrain_policy", None)
        if tick:
            if policy is None:
                from django.core.management.base import CommandError

                raise CommandError(f"campaign {camp.slug!r} has no retraining policy: give --config")
            rnd = retrain_tick(policy=policy)
            self.stdout.write(
                json.dumps(None if rnd is None else {"round": rnd.pk, "status": rnd.status, "message": rnd.message})
            )
        self.stdout.write(f"approved ratings: {approved_ratings(campaign=camp)}")
