from annotation.services.campaigns import campaign_get
from core.management.base import ServiceCommand

from ...models import Scorer
from ...services.screening import screening_rescore, screening_set


class Command(ServiceCommand):
    help = "Set a campaign's screening scorer (it pre-scores new items on the training workers), or turn it off."

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True)
        parser.add_argument("--scorer", help="A registered scorer's id or name.")
        parser.add_argument(
            "--hold-probability",
            type=float,
            default=0.9,
            help="Hold an item for an admin's check at P(Bad) on quality >= this (1: never).",
        )
        parser.add_argument("--off", action="store_true", help="Turn screening off.")
        parser.add_argument("--rescore", action="store_true", help="Also queue the items not scored yet.")

    def handle(self, *args, campaign, scorer, hold_probability, off, rescore, **options):
        from django.core.management.base import CommandError

        camp = campaign_get(slug=campaign)
        if off == bool(scorer):
            raise CommandError("give --scorer ID|NAME, or --off")
        chosen = None
        if scorer:
            chosen = (
                (Scorer.objects.filter(pk=int(scorer)) if scorer.isdigit() else Scorer.objects.filter(name=scorer))
                .filter(is_active=True)
                .first()
            )
            if chosen is None:
                raise CommandError(f"no active scorer {scorer!r} (see /training/scorers/)")
        screening_set(campaign=camp, scorer=chosen, hold_probability=hold_probability)
        self.stdout.write(
            f"screening of {camp.slug}: "
            + (f"{chosen.name}, holds at P(Bad) >= {hold_probability:g}" if chosen else "off")
        )
        if rescore and chosen:
            self.stdout.write(f"{screening_rescore(campaign=camp)} items queued for scoring")
