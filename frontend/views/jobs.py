"""A job's page: imports, aggregations, exports, scrutiny sweeps and prompt jobs all report here, with live
progress (job.js polls the API), the one-line reason when it failed (an import names its first bad row),
and what it made: the export's download, the new version, the items imported."""

from django.http import Http404
from django.shortcuts import render

from annotation.selectors.jobs import KIND_TITLES, job_for_page

from ..access import signed_in


@signed_in
def job_detail(request, job_id: int):
    job = job_for_page(job_id=job_id, user=request.user)
    if job is None:
        raise Http404(f"There is no job {job_id} you can see.")
    return render(
        request,
        "frontend/job.html",
        {
            "job": job,
            "title": KIND_TITLES.get(job.kind, job.kind),
            "percent": round(100 * job.progress / job.total)
            if job.total
            else (100 if job.status == "succeeded" else 0),
        },
    )
