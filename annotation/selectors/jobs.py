"""Reads of the job page: a job the person may see."""
from __future__ import annotations

from ..models import Job
from ..services.jobs import job_visible_to

# What each kind of job is called on its page.
KIND_TITLES = {
    "import_items": "Import of content", "mos_aggregate": "Dataset version (aggregation)",
    "dataset_export": "Export", "scrutinize": "Scrutiny sweep", "prompts_import": "Import of prompts",
    "prompts_classify": "Prompt classification", "selfcheck": "Worker self-check",
}


def job_for_page(*, job_id: int, user) -> Job | None:
    """The job when `user` may see it (its creator, admins, researchers for command-line jobs); else None,
    so other people's job ids answer like missing ones."""
    job = Job.objects.select_related("campaign", "created_by").filter(pk=job_id).first()
    if job is None or not job_visible_to(job=job, user=user):
        return None
    return job
