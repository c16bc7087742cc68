"""Celery tasks of MOS aggregation and exports. Both run as Job rows through `annotation.run_job`
(see services/jobs.py: kinds `mos_aggregate` and `dataset_export`); this task lets a schedule (beat)
aggregate a campaign without making the job row first."""

from celery import shared_task


@shared_task(name="annotation.mos_aggregate_campaign", acks_late=True)
def mos_aggregate_campaign(campaign_id: int, method: str = "mean") -> int:
    from ..models import Campaign
    from ..services.jobs import job_create, job_run

    campaign = Campaign.objects.get(pk=campaign_id)
    job = job_create(kind="mos_aggregate", params={"method": method, "params": None}, campaign=campaign)
    return job_run(job_id=job.pk).result["version_id"]
