"""aggregate_mos --campaign SLUG [--method M] [--params JSON] [--extra-ratings [--step N]] [--enqueue]"""

import json

from core.errors import InvalidInput

from ...aggregation import METHODS
from ...services.campaigns import campaign_get
from ...services.coverage import coverage_extra_ratings, coverage_summary
from ...services.mos import mos_method_check, version_by_number, version_get
from ..job_command import JobCommand


class Command(JobCommand):
    help = (
        "Aggregate the approved ratings of a campaign into a new immutable dataset version (MOS, std, 95% CI "
        "per item and dimension). With --extra-ratings, then raise the target of items whose CI is too wide."
    )
    job_kind = "mos_aggregate"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--campaign", required=True, help="Campaign slug.")
        parser.add_argument("--method", default="mean", choices=METHODS, help="Aggregation method (default mean).")
        parser.add_argument("--params", default=None, help="Method parameters as JSON, e.g. '{\"v_min\": 0.3}'.")
        parser.add_argument(
            "--extra-ratings",
            action="store_true",
            help="After aggregating, give uncertain items extra ratings (raise Item.target).",
        )
        parser.add_argument("--step", type=int, default=2, help="Extra ratings per uncertain item (default 2).")

    def handle(self, *args, campaign, method, params, extra_ratings, step, enqueue, **options):
        camp = campaign_get(slug=campaign)
        try:
            params_obj = json.loads(params) if params else None
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"--params is not valid JSON: {exc}") from None
        if params_obj is not None and not isinstance(params_obj, dict):
            raise InvalidInput("--params must be a JSON object")
        if step < 1:
            raise InvalidInput(f"--step must be a positive integer (got {step})")
        if enqueue and extra_ratings:
            raise InvalidInput(
                "--extra-ratings runs in the foreground; run it without --enqueue "
                "(or use the API action on the version)"
            )
        mos_method_check(method, params_obj)  # fail before a job row is made
        result = self.run_job(
            params={"method": method, "params": params_obj},
            campaign=camp,
            enqueue=enqueue,
            label=f"aggregate {camp.slug}",
        )
        if result is None:
            return
        version = version_get(version_id=result["version_id"])
        counts = version.counts
        self.stdout.write(
            f"version {version.number} of {camp.slug}: method {version.method}, {counts['items']} items, "
            f"{counts['ratings']} ratings, {counts['annotators']} annotators, checksum {version.checksum[:12]}"
        )
        cov = coverage_summary(version=version)
        self.stdout.write(
            f"coverage: {cov['items_complete']} complete, {cov['below_target']} below target, "
            f"{cov['uncertain']} uncertain (CI half-width > {cov['ci_width_threshold']})"
        )
        if extra_ratings:
            extra = coverage_extra_ratings(version=version_by_number(campaign=camp, number=version.number), step=step)
            self.stdout.write(
                f"extra ratings: target raised for {extra['raised']} items "
                f"({extra['at_cap']} already at the cap of {extra['cap']})"
            )
