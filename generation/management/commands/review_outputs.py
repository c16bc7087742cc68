"""review_outputs --campaign SLUG (--approve | --reject) (--job ID | --output ID ...)"""

from annotation.services.campaigns import campaign_get
from core.management.base import ServiceCommand
from generation.services.review import outputs_review


class Command(ServiceCommand):
    help = "Approve (they become items) or reject generated outputs that wait for approval."

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True)
        decision = parser.add_mutually_exclusive_group(required=True)
        decision.add_argument("--approve", action="store_true")
        decision.add_argument("--reject", action="store_true")
        parser.add_argument("--job", type=int, help="Every waiting output of this generation job.")
        parser.add_argument("--output", type=int, action="append", default=[], help="An output id; repeatable.")

    def handle(self, *args, **opts):
        campaign = campaign_get(slug=opts["campaign"])
        result = outputs_review(
            campaign=campaign,
            decision="approve" if opts["approve"] else "reject",
            output_ids=opts["output"],
            job_id=opts["job"],
        )
        self.stdout.write(", ".join(f"{v} {k}" for k, v in result.items()))
