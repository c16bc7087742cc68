"""generate --campaign SLUG --generator NAME [--generator NAME ...] [--set SLUG] [--seeds N] [--seed-base S]
[--category C] [--subcategory S] [--tag T] [--long-only] [--review] [--enqueue]"""

from tqdm import tqdm

from annotation.services.campaigns import campaign_get
from core.management.base import ServiceCommand
from generation.services.jobs import generation_job_create, generation_job_enqueue
from generation.services.prompts import prompt_set_get
from generation.services.running import generation_job_run_here


class Command(ServiceCommand):
    help = (
        "Generate one output per (prompt, generator, seed) of a prompt set (or a filter of it) into the campaign. "
        "A re-run makes only what is missing and says so. Runs here with a progress bar, or --enqueue hands it to "
        "the GPU workers of the `generation` queue."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True)
        parser.add_argument("--generator", action="append", required=True, help="Registered generator; repeatable.")
        parser.add_argument("--set", dest="prompt_set", help="Prompt set slug (default: every set of the campaign).")
        parser.add_argument("--seeds", type=int, default=1, help="Seeds per prompt (default 1).")
        parser.add_argument("--seed-base", type=int, default=0, help="First seed (default 0).")
        parser.add_argument("--category", default="")
        parser.add_argument("--subcategory", default="")
        parser.add_argument("--tag", default="")
        parser.add_argument("--long-only", action="store_true", help="Only prompts of more than 25 words.")
        parser.add_argument("--review", action="store_true", help="Outputs wait for approval before they become items.")
        parser.add_argument(
            "--enqueue", action="store_true", help="Hand the job to the generation workers and print its id."
        )

    def handle(self, *args, **opts):
        campaign = campaign_get(slug=opts["campaign"])
        prompt_set = prompt_set_get(campaign=campaign, slug=opts["prompt_set"]) if opts["prompt_set"] else None
        job = generation_job_create(
            campaign=campaign,
            generator_names=opts["generator"],
            prompt_set=prompt_set,
            seeds=opts["seeds"],
            seed_base=opts["seed_base"],
            category=opts["category"],
            subcategory=opts["subcategory"],
            tag=opts["tag"],
            long_only=opts["long_only"],
            review=opts["review"],
        )
        self.stdout.write(
            f"generation job {job.pk}: {job.planned} outputs asked, {job.existing} exist already, {job.to_make} to make"
        )
        if job.is_finished:
            self.stdout.write(job.message)
            self.stdout.write(str(job.pk))
            return
        if opts["enqueue"]:
            generation_job_enqueue(job=job)
            self.stdout.write(f"queued on the generation workers; follow it at /generation/jobs/{job.pk}/")
            self.stdout.write(str(job.pk))
            return
        bar = tqdm(total=job.to_make, desc="generating", unit="output", file=self.stderr._out, dynamic_ncols=True)
        try:
            job = generation_job_run_here(job=job, on_batch=lambda r: bar.update(r.made + r.failed))
        finally:
            bar.close()
        self.stdout.write(f"job {job.pk} {job.status}: {job.message}")
        if job.status == "failed":
            from generation.selectors import job_progress

            for g in job_progress(job=job)["generators"]:
                for failure in g["failures"][:1]:
                    self.stderr.write(f"{g['generator']}: {g['failed']} failed, e.g. {failure['error']}")
        self.stdout.write(str(job.pk))
