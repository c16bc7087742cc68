"""Many workers share one job: concurrent claims on PostgreSQL (SELECT ... FOR UPDATE SKIP LOCKED) never hand one
output to two workers."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from generation.models import GenerationOutput
from generation.services.generators import generator_register
from generation.services.jobs import generation_job_create
from generation.services.running import _claim
from tests.factories import CampaignFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_are_disjoint_and_cover_the_job(prompt_files):
    from generation.services.prompts import prompt_set_ensure, prompts_import

    campaign = CampaignFactory()
    prompt_set = prompt_set_ensure(campaign=campaign, name="many")
    prompts_import(prompt_set=prompt_set, path=prompt_files.csv([{"text": f"prompt number {i}"} for i in range(30)]))
    generator_register(name=f"claims-{campaign.slug}", campaign=campaign, kind="diffusers", tiny="image")
    job = generation_job_create(campaign=campaign, generator_names=[f"claims-{campaign.slug}"], seeds=2)
    generator_id = job.generators.get().pk
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            mine: list[int] = []
            while batch := _claim(job, generator_id, 4, name):
                mine.extend(o.pk for o in batch)
            claimed[name] = mine
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    every = [pk for ids in claimed.values() for pk in ids]
    assert len(claimed) == 4 and len(every) == 60 and len(set(every)) == 60
    by_worker = dict(GenerationOutput.objects.filter(job=job).values_list("id", "worker"))
    assert all(by_worker[pk] == name for name, ids in claimed.items() for pk in ids)
