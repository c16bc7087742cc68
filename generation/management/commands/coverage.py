"""coverage --campaign SLUG [--by category|subcategory] [--prompts] [--csv FILE]"""

from pathlib import Path

from annotation.services.campaigns import campaign_get
from core.errors import InvalidInput
from core.management.base import ServiceCommand
from generation.services.coverage import coverage_compute, coverage_csv


class Command(ServiceCommand):
    help = (
        "Print the campaign's category x generator table of items (gaps marked with !), or with --prompts the "
        "prompts per category and prompt set, with the share of long prompts. --csv writes the table as CSV."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True)
        parser.add_argument("--by", choices=["category", "subcategory"], default="category")
        parser.add_argument("--prompts", action="store_true", help="The prompts table instead of the items table.")
        parser.add_argument("--csv", help="Also write the table to this CSV file.")

    def handle(self, *args, **opts):
        campaign = campaign_get(slug=opts["campaign"])
        cov = coverage_compute(campaign=campaign, by=opts["by"])
        table = "prompts" if opts["prompts"] else "items"
        if opts["csv"]:
            try:
                Path(opts["csv"]).write_text(coverage_csv(coverage=cov, table=table), encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(f"cannot write {opts['csv']}: {exc.strerror}") from None

        def label(r: dict) -> str:
            return r["category"] if opts["by"] == "category" else f"{r['category']} / {r['subcategory']}"

        if table == "prompts":
            columns = cov["prompt_sets"] + ["total", "long"]
            rows = [
                (label(r), [*(r["by_set"][s] for s in cov["prompt_sets"]), r["prompts"], r["long"]], r["gap"])
                for r in cov["prompts"]["rows"]
            ]
            share = cov["prompts"]["long_share"]
            footer = f"{cov['prompts']['total']} prompts, {cov['prompts']['long']} long ({_pct(share)}); {cov['prompts']['gaps']} gaps"
        else:
            names = [g["name"] for g in cov["generators"]]
            columns = names + ["total", "long"]
            rows = [
                (label(r), [*(r["by_generator"][g] for g in names), r["items"], r["long"]], bool(r["gaps"]))
                for r in cov["items"]["rows"]
            ]
            footer = (
                f"{cov['items']['total']} items, {cov['items']['long']} with long prompts ({_pct(cov['items']['long_share'])}); "
                f"{cov['items']['gaps']} empty cells (!)"
            )
        width = max([len(r[0]) for r in rows] + [10])
        widths = [max(len(c), 5) for c in columns]
        self.stdout.write(
            f"{'taxonomy ' + cov['taxonomy']:<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(columns, widths))
        )
        for name, values, _gap in rows:
            cells = []
            for i, (v, w) in enumerate(zip(values, widths)):
                mark = "!" if (v == 0 and (table == "prompts" or i < len(values) - 2)) else " "
                cells.append(f"{str(v) + mark:>{w + 1}}")
            self.stdout.write(f"{name:<{width}} " + " ".join(cells))
        self.stdout.write(footer)


def _pct(share) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"
