#!/usr/bin/env python
"""Benchmark: Sample-and-Scrutinize at the paper's scale (not part of the test suite).

Creates its own PostgreSQL database (qeval_bench_scrutiny; dropped at the end unless --keep), seeds
100K items over 20 generators with COPY, then times and prints:

- create_golden_set --fraction 0.05 (5K of 100K, stratified) and growing it to 6%;
- import_golden of 5K golden scores;
- scrutiny of N closed batches (40 regular + 10 golden ratings each): total and per batch, and the
  re-scrutiny of the same unchanged batches (must change nothing);
- batch_decide: reject then approve one batch (counters moved under the item locks);
- the expert pool query (golden items still needing expert ratings) for one expert;
- the desk queue page (first page of N batches) rendered by the view.

Usage:  .venv/bin/python benchmarks/scrutiny.py [--items 100000] [--batches 1000]
        [--admin-url postgres://postgres@127.0.0.1:5432/postgres] [--db qeval_bench_scrutiny] [--keep]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]


def admin_sql(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


def timed(label: str, fn, *, per: int | None = None, unit: str = ""):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    extra = f"  ({dt / per * 1000:.1f} ms per {unit})" if per else ""
    print(f"{label:<58} {dt:8.2f} s{extra}", flush=True)
    return out


def seed_items(n_items: int):
    import numpy as np
    from django.db import connection

    from annotation.models import Campaign, Generator, Item, Prompt

    rng = np.random.default_rng(0)
    campaign = Campaign.objects.create(slug="bench", name="Bench", golden_per_batch=10, batch_size=40)
    gens = [Generator.objects.create(name=f"img-gen-{k}", media_type="image") for k in range(14)]
    gens += [Generator.objects.create(name=f"vid-gen-{k}", media_type="video") for k in range(6)]
    prompt = Prompt.objects.create(text="benchmark prompt", text_sha256="0" * 64, word_count=2)
    # Uneven generator sizes, like a real campaign.
    weights = rng.uniform(0.2, 1.0, len(gens))
    gen_of = rng.choice(len(gens), size=n_items, p=weights / weights.sum())
    stamp = "2026-01-01 00:00:00+00"
    with connection.cursor() as cur:
        with cur.cursor.copy(
            "COPY annotation_item (campaign_id, item_id, media, thumbnail, media_type, width, height, sha256, prompt_id, "
            "generator_id, is_golden, target, active_count, created_at, "
            "shuffle_key, priority, priority_scale, priority_bonus, is_held, split) FROM STDIN"
        ) as cp:
            for i in range(n_items):
                g = gens[gen_of[i]]
                # (the last six: what Item() would give; they have no database default)
                cp.write_row(
                    (
                        campaign.pk,
                        f"it-{i:07d}",
                        f"media/{i}",
                        "",
                        g.media_type,
                        512,
                        512,
                        f"{i:064x}",
                        prompt.pk,
                        g.pk,
                        False,
                        6,
                        0,
                        stamp,
                        int(rng.integers(0, 2**31)),
                        1.0,
                        1.0,
                        0.0,
                        False,
                        "",
                    )
                )
        cur.execute("ANALYZE")
    return campaign, list(Item.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))


def seed_batches(campaign, n_batches: int, regular: list[int], golden: dict[int, tuple[float, float]]):
    """n closed batches, each 40 regular + 10 golden ratings from its own annotator; a quarter careless."""
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Batch

    rng = np.random.default_rng(1)
    User = get_user_model()
    User.objects.bulk_create([User(username=f"bench-ann-{k}", password="!") for k in range(n_batches)])
    users = list(User.objects.filter(username__startswith="bench-ann-").order_by("pk").values_list("pk", flat=True))
    Batch.objects.bulk_create(
        [Batch(campaign=campaign, annotator_id=u, status="closed", kind="annotation") for u in users]
    )
    batches = list(Batch.objects.filter(campaign=campaign).order_by("pk").values_list("pk", "annotator_id"))
    golden_ids = np.array(sorted(golden))
    regular_ids = np.array(regular)
    stamp = "2026-01-01 00:00:00+00"
    with connection.cursor() as cur:
        with cur.cursor.copy(
            "COPY annotation_rating (annotator_id, item_id, batch_id, quality, alignment, created_at) FROM STDIN"
        ) as cp:
            for k, (batch_id, user_id) in enumerate(batches):
                careless = k % 4 == 0
                buf = io.StringIO()
                for item in rng.choice(regular_ids, 40, replace=False).tolist():
                    buf.write(f"{user_id}\t{item}\t{batch_id}\t{rng.integers(1, 6)}\t{rng.integers(1, 6)}\t{stamp}\n")
                for item in rng.choice(golden_ids, 10, replace=False).tolist():
                    q, a = golden[item]
                    if careless:
                        rq, ra = int(rng.integers(1, 6)), int(rng.integers(1, 6))
                    else:
                        rq = int(np.clip(round(q + rng.normal(0, 0.5)), 1, 5))
                        ra = int(np.clip(round(a + rng.normal(0, 0.5)), 1, 5))
                    buf.write(f"{user_id}\t{item}\t{batch_id}\t{rq}\t{ra}\t{stamp}\n")
                cp.write(buf.getvalue())
        cur.execute(
            "UPDATE annotation_item SET active_count = sub.n FROM (SELECT item_id, count(*) n FROM "
            "annotation_rating GROUP BY item_id) sub WHERE sub.item_id = annotation_item.id"
        )
        cur.execute("ANALYZE")
    return [b for b, _ in batches]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db", default="qeval_bench_scrutiny")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    admin_sql(args.admin_url, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    admin_sql(args.admin_url, f'CREATE DATABASE "{args.db}"')
    os.environ["DATABASE_URL"] = args.admin_url.rsplit("/", 1)[0] + "/" + args.db
    os.environ["QEVAL_VAR_DIR"] = tempfile.mkdtemp(prefix="qeval-bench-scrutiny-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    import django

    django.setup()
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin_sql(args.admin_url, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


def run(args) -> None:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import RequestFactory

    from annotation.models import Batch, Item
    from annotation.services.golden import expert_pool, golden_import, golden_set_create
    from annotation.services.scrutiny import batch_decide, batches_scrutinize
    from frontend.views import desk

    call_command("migrate", verbosity=0)
    print(f"scrutiny benchmark: {args.items} items, {args.batches} batches of 50 ratings (10 golden)")
    campaign, _ = timed(f"seed {args.items} items (COPY)", lambda: seed_items(args.items))
    timed(
        "create_golden_set --fraction 0.05 (stratified, 20 strata)",
        lambda: golden_set_create(campaign=campaign, fraction=0.05, seed=1),
    )
    rng = np.random.default_rng(2)
    golden_ids = list(
        Item.objects.filter(campaign=campaign, is_golden=True).order_by("pk").values_list("pk", "item_id")
    )
    scores = {pk: (round(float(rng.uniform(1, 5)), 2), round(float(rng.uniform(1, 5)), 2)) for pk, _ in golden_ids}
    csv = "item_id,quality,alignment\n" + "".join(f"{iid},{scores[pk][0]},{scores[pk][1]}\n" for pk, iid in golden_ids)
    timed(f"import_golden ({len(golden_ids)} items, 2 dimensions)", lambda: golden_import(campaign=campaign, data=csv))
    regular = list(Item.objects.filter(campaign=campaign, is_golden=False).order_by("pk").values_list("pk", flat=True))
    timed(
        f"seed {args.batches} closed batches ({args.batches * 50} ratings, COPY)",
        lambda: seed_batches(campaign, args.batches, regular, scores),
    )
    timed(
        f"scrutinize {args.batches} batches",
        lambda: batches_scrutinize(campaign=campaign),
        per=args.batches,
        unit="batch",
    )
    decided = dict(
        Batch.objects.filter(campaign=campaign)
        .values_list("decision")
        .annotate(n=django_count())
        .values_list("decision", "n")
    )
    print(f"{'  decisions':<58} {decided}")
    before = list(Batch.objects.filter(campaign=campaign).order_by("pk").values_list("scrutinized_at", "decision"))
    timed(
        f"re-scrutinize the {args.batches} unchanged batches (--all)",
        lambda: batches_scrutinize(campaign=campaign, rescrutinize=True),
        per=args.batches,
        unit="batch",
    )
    after = list(Batch.objects.filter(campaign=campaign).order_by("pk").values_list("scrutinized_at", "decision"))
    print(f"{'  unchanged after re-scrutiny':<58} {before == after}")
    batch = Batch.objects.filter(campaign=campaign, decision="approved").first()
    if batch:
        timed(
            "batch_decide: reject one batch (50 items -1)",
            lambda: batch_decide(batch=batch, decision="rejected", source="auto", reason="bench"),
        )
        timed(
            "batch_decide: approve it again (50 items +1)",
            lambda: batch_decide(batch=batch, decision="approved", source="auto", reason="bench"),
        )
    User = get_user_model()
    expert = User.objects.create(username="bench-expert")
    timed(
        "expert pool: first 40 golden items needing experts",
        lambda: list(expert_pool(campaign=campaign, user=expert).order_by("pk").values_list("pk", flat=True)[:40]),
    )
    admin = User.objects.create(username="bench-admin", is_superuser=True)
    request: Any = RequestFactory().get("/desk/")  # a page request as the desk view sees it
    request.user = admin
    request.session = {}
    request._messages = _NoMessages()
    timed("desk queue page, first render (templates load)", lambda: desk.queue(request))
    response = timed(f"desk queue page (first 50 of {args.batches} batches)", lambda: desk.queue(request))
    print(f"{'  desk queue response':<58} {response.status_code}, {len(response.content) // 1024} KiB")


def django_count():
    from django.db.models import Count

    return Count("pk")


class _NoMessages(list):
    def add(self, *args, **kwargs):
        pass

    def __iter__(self):
        return iter(())


if __name__ == "__main__":
    main()
