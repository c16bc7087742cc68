from core.management.base import ServiceCommand

from ...services.campaigns import campaign_create


class Command(ServiceCommand):
    help = "Create an annotation campaign."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name")
        parser.add_argument("--instructions", default="")
        parser.add_argument("--dimensions", default="quality,alignment", help="Comma list of quality, alignment.")
        parser.add_argument("--ratings-per-image", type=int)
        parser.add_argument("--ratings-per-video", type=int)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--golden-per-batch", type=int)
        parser.add_argument("--lease-minutes", type=int)
        parser.add_argument("--approve-threshold", type=float)
        parser.add_argument("--reject-threshold", type=float)
        parser.add_argument("--min-golden", type=int)
        parser.add_argument("--expert-ratings", type=int, dest="expert_ratings_per_golden")
        parser.add_argument(
            "--scrutiny-measure",
            choices=["srcc_and_plcc", "srcc", "plcc"],
            help="Fixed method: which correlations decide.",
        )
        parser.add_argument(
            "--scrutiny-method",
            choices=["calibrated", "fixed"],
            help="calibrated (default): all of an annotator's golden evidence against the campaign's "
            "raters; fixed: the batch's correlations against two thresholds (the paper's protocol).",
        )
        parser.add_argument(
            "--approve-probability", type=float, help="Calibrated: approve at P(genuine) >= this (0.95)."
        )
        parser.add_argument("--reject-probability", type=float, help="Calibrated: reject at P(genuine) <= this (0.05).")
        parser.add_argument("--golden-min-per-batch", type=int, help="Calibrated: golden items for long good records.")
        parser.add_argument(
            "--golden-max-per-batch", type=int, help="Calibrated: golden items until evidence is conclusive."
        )
        parser.add_argument("--require-full-video", action="store_true", default=None)
        parser.add_argument(
            "--overlap-policy",
            choices=["fixed", "adaptive"],
            help="fixed (default): --ratings-per-image/-video each; adaptive: more ratings until the MOS "
            "interval is narrower than --overlap-ci-target, between the minimum and --max-ratings-per-item.",
        )
        parser.add_argument("--min-ratings-per-image", type=int, help="Adaptive overlap: ratings every image gets (3).")
        parser.add_argument("--min-ratings-per-video", type=int, help="Adaptive overlap: ratings every video gets (2).")
        parser.add_argument("--max-ratings-per-item", type=int, help="Cap on ratings per item (12).")
        parser.add_argument(
            "--overlap-ci-target", type=float, help="Adaptive overlap: stop an item at this MOS 95%% half-width (1.5)."
        )
        parser.add_argument(
            "--selection-policy",
            choices=["fullest", "value"],
            help="Which open items batches take first: fullest (default) or by expected value.",
        )

    def handle(self, *args, slug, dimensions, **options):
        dims = {d.strip() for d in dimensions.split(",") if d.strip()}
        if not dims or dims - {"quality", "alignment"}:
            from django.core.management.base import CommandError

            raise CommandError(f"--dimensions must be a comma list of quality, alignment (got {dimensions!r})")
        fields = {
            key: options[key]
            for key in (
                "name",
                "instructions",
                "ratings_per_image",
                "ratings_per_video",
                "batch_size",
                "golden_per_batch",
                "lease_minutes",
                "approve_threshold",
                "reject_threshold",
                "min_golden",
                "expert_ratings_per_golden",
                "scrutiny_measure",
                "require_full_video",
                "scrutiny_method",
                "approve_probability",
                "reject_probability",
                "golden_min_per_batch",
                "golden_max_per_batch",
                "overlap_policy",
                "min_ratings_per_image",
                "min_ratings_per_video",
                "max_ratings_per_item",
                "overlap_ci_target",
                "selection_policy",
            )
            if options.get(key) is not None
        }
        campaign = campaign_create(
            slug=slug, rate_quality="quality" in dims, rate_alignment="alignment" in dims, **fields
        )
        self.stdout.write(f"campaign {campaign.slug} created ({', '.join(campaign.dimensions)})")
