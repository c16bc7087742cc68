"""A job's progress page: imports, scrutiny sweeps, aggregation and exports all report here."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from annotation.models import Job
from annotation.services.jobs import job_visible_to


@login_required
def job_detail(request, job_id: int):
    job = get_object_or_404(Job, pk=job_id)
    if not job_visible_to(job=job, user=request.user):
        raise Http404("No such job.")
    return render(request, "frontend/job.html", {"job": job})
