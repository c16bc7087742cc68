"""classify_prompts --campaign SLUG --set SLUG [--method rules|llm] [--llm MODEL] [--endpoint URL] [--overwrite] [--enqueue]"""

from annotation.management.job_command import JobCommand
from annotation.services.campaigns import campaign_get
from core.errors import InvalidInput
from generation.services.prompts import prompt_set_get


class Command(JobCommand):
    help = (
        "Give prompts without a category one from the set's taxonomy: by keyword rules, or by an LLM (a local Hugging "
        "Face model path or hub id, or an OpenAI-compatible endpoint); the method is recorded per prompt."
    )
    job_kind = "prompts_classify"

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True)
        parser.add_argument("--set", dest="prompt_set", required=True)
        parser.add_argument("--method", choices=["rules", "llm"], default="rules")
        parser.add_argument("--llm", default="", help="Model: a local path or hub id, or the model name at --endpoint.")
        parser.add_argument(
            "--endpoint", default="", help="OpenAI-compatible base URL (…/v1); key from QEVAL_LLM_API_KEY."
        )
        parser.add_argument(
            "--overwrite", action="store_true", help="Classify every prompt, not only those without a category."
        )
        super().add_arguments(parser)

    def handle(self, *args, **opts):
        campaign = campaign_get(slug=opts["campaign"])
        prompt_set = prompt_set_get(campaign=campaign, slug=opts["prompt_set"])
        if opts["method"] == "llm" and not (opts["llm"] or opts["endpoint"]):
            raise InvalidInput("--method llm needs --llm MODEL (a local path or hub id) or --endpoint URL")
        params = {
            "campaign": campaign.slug,
            "prompt_set": prompt_set.slug,
            "method": opts["method"],
            "model": opts["llm"],
            "endpoint": opts["endpoint"],
            "overwrite": opts["overwrite"],
        }
        if opts["enqueue"]:
            from annotation.services.jobs import job_create
            from generation.services.classify import prompts_classify_enqueue

            job = prompts_classify_enqueue(job=job_create(kind=self.job_kind, params=params, campaign=campaign))
            queue = "generation" if opts["method"] == "llm" else "default"
            self.stdout.write(f"job {job.pk} queued ({self.job_kind}, {queue} queue); follow it at /jobs/{job.pk}/")
            self.stdout.write(str(job.pk))
            return
        result = self.run_job(params=params, campaign=campaign, enqueue=False, label="classifying prompts")
        if result is not None:
            self.stdout.write(
                f"classified {result['prompts']} prompts: {result['llm']} by the LLM, {result['rules']} by "
                f"rules ({result['fallback']} after an unusable LLM answer), {result['none']} matched nothing"
            )
