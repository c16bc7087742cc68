"""import_prompts --campaign SLUG --file FILE [--set NAME] [--taxonomy SLUG] [--classify rules|llm] [--enqueue]"""

from pathlib import Path

from annotation.management.job_command import JobCommand
from annotation.services.campaigns import campaign_get


class Command(JobCommand):
    help = (
        "Import prompts (CSV/JSONL: text, optional category, subcategory, tags) into a prompt set of the campaign: "
        "all rows or none; exact and normalised duplicates are skipped and counted."
    )
    job_kind = "prompts_import"

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True)
        parser.add_argument("--file", required=True, help="A .csv or .jsonl file.")
        parser.add_argument(
            "--set", dest="prompt_set", help="Prompt set name (created if new; default: the file's name)."
        )
        parser.add_argument(
            "--taxonomy", help="Taxonomy slug for a new set (default: qeval-table7, the paper's Table 7)."
        )
        parser.add_argument(
            "--classify", choices=["rules"], help="Classify prompts without a category by the rule set."
        )
        super().add_arguments(parser)

    def handle(self, *args, **opts):
        campaign = campaign_get(slug=opts["campaign"])
        path = Path(opts["file"]).resolve()
        params = {
            "campaign": campaign.slug,
            "prompt_set": opts["prompt_set"] or path.stem,
            "taxonomy": opts["taxonomy"],
            "path": str(path),
            "classify": opts["classify"],
        }
        result = self.run_job(params=params, campaign=campaign, enqueue=opts["enqueue"], label="importing prompts")
        if result is None:
            return
        self.stdout.write(
            f"prompt set {result['prompt_set']!r}: {result['added']} prompts added from {result['rows']} rows "
            f"({result['duplicates_exact']} exact and {result['duplicates_normalised']} normalised duplicates skipped, "
            f"{result['already_in_set']} already in the set); {result['long_prompts']} long (> 25 words), "
            f"{result['without_category']} without a category"
        )
        if result.get("classified"):
            c = result["classified"]
            self.stdout.write(f"classified {c['prompts']}: {c['rules']} by rules, {c['none']} matched no rule")
