"""export_dataset --campaign SLUG --format F --out DIR [--version V] [--split train=0.8,val=0.1,test=0.1|given]
[--seed S] [--media copy|link|none] [--golden keep|exclude-train|exclude] [--enqueue]"""

from pathlib import Path

from ...services.campaigns import campaign_get
from ...services.exports import FORMATS, export_check
from ...services.exports.media import MEDIA_MODES
from ...services.exports.splits import GOLDEN_MODES
from ...services.mos import version_by_number
from ..job_command import JobCommand


class Command(JobCommand):
    help = (
        "Export a dataset version (default: the latest) as a MOS table (mos-csv, mos-jsonl, mos-parquet) or "
        "SFT conversations (sft, sft-sharegpt, sft-swift), with manifest.json and the media under media/."
    )
    job_kind = "dataset_export"

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Our --version (a dataset version number) replaces Django's --version (its own release).
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--campaign", required=True, help="Campaign slug.")
        parser.add_argument("--format", required=True, dest="fmt", help=f"One of {', '.join(FORMATS)}.")
        parser.add_argument("--out", required=True, help="Output folder (must not exist or be empty).")
        parser.add_argument("--version", type=int, dest="number", help="Version number (default: the latest).")
        parser.add_argument(
            "--split",
            default=None,
            help="e.g. train=0.8,val=0.1,test=0.1 (by prompt, stratified by "
            "generator), or 'given': the split imported with the items.",
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed of the split (default 0).")
        parser.add_argument("--media", default="copy", help=f"One of {', '.join(MEDIA_MODES)} (default copy).")
        parser.add_argument(
            "--golden",
            default="keep",
            help=f"Golden items: one of {', '.join(GOLDEN_MODES)} (default keep; exclude-train keeps "
            "them out of the train split, exclude out of every file).",
        )

    def handle(self, *args, campaign, fmt, out, number, split, seed, media, golden, enqueue, **options):
        camp = campaign_get(slug=campaign)
        checked = export_check(fmt=fmt, split=split, seed=seed, media=media, out=out, golden=golden)
        version = version_by_number(campaign=camp, number=number)
        out = str(Path(out).resolve())
        result = self.run_job(
            params={
                "version_id": version.pk,
                "format": fmt,
                "split": checked["split"],
                "seed": checked["seed"],
                "media": media,
                "golden": checked["golden"],
                "out": out,
            },
            campaign=camp,
            enqueue=enqueue,
            label=f"export {fmt}",
        )
        if result is None:
            return
        counts = ", ".join(f"{k}: {v}" for k, v in result["counts"].items())
        self.stdout.write(f"exported {camp.slug} v{version.number} as {fmt} to {out} ({counts})")
