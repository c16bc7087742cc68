#!/usr/bin/env python
"""Benchmark: how right Sample-and-Scrutinize decides, per method, on simulated raters (not part of the
test suite).

Everything goes through the real services on PostgreSQL (its own database, qeval_bench_qc, dropped at
the end unless --keep): golden scores made of three experts' ratings (expert batches), batches asked
for and rated through `batch_request` / `rating_submit` (with the campaign's golden allocation, the
batch closing with its last rating and scrutiny running on commit, as the Celery task does), and whole
vendor files through `ratings_import`. Raters (benchmarks/qc_raters.py): genuine ones whose SRCC
against the golden scores spans what real lab raters show (0.30-0.81 quality, 0.47-0.90 alignment, with
their own offsets and use of the scale) and planted bad ones: random, inverted, constant, 90% one value,
half random, too fast, straight-liner.

Decisions are read at the end of the run (what the dataset is left with). Per method (`fixed`, the
paper's protocol, and `calibrated`, the default) and per path it prints:
- planted raters caught: none of their batches approved;
- genuine raters approved (every batch approved), held back (some batch waiting for an admin, none
  rejected), rejected (some batch rejected); and the same per batch;
- golden ratings per approved regular rating (the golden cost).
Goal: 100% of planted raters caught; at most 10% of genuine raters held back and at most 2% rejected;
fewer golden ratings per approved rating than `fixed`. The last line is one JSON object.

Usage:  .venv/bin/python benchmarks/qc_accuracy.py [--items 4000] [--genuine 40] [--planted-each 2]
        [--batches 8] [--vendor-items 150] [--seed 0] [--paths api,vendor] [--keep]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform"), str(ROOT / "benchmarks")]

import qc_raters as R  # noqa: E402

METHODS = ("fixed", "calibrated")


def admin_sql(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


# ------------------------------------------------------------------------------------------ seeding


def seed_campaign(slug: str, method: str, world: R.World, golden_idx, *, batch_size: int, golden_per_batch: int):
    """A campaign with one item per world item (images over four generators) and golden scores made of
    three expert ratings each (expert batches, as the expert mode leaves them)."""
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from annotation.models import Batch, Generator, GoldenScore, Item, Prompt, Rating
    from annotation.services.campaigns import campaign_create

    campaign = campaign_create(
        slug=slug, scrutiny_method=method, batch_size=batch_size, golden_per_batch=golden_per_batch, ratings_per_image=6
    )
    n = len(world.true["quality"])
    with transaction.atomic():
        gens = [Generator.objects.get_or_create(name=f"bench-gen-{g}", media_type="image")[0] for g in range(4)]
        prompt, _ = Prompt.objects.get_or_create(
            text_sha256="b" * 64, defaults={"text": "a bench prompt", "word_count": 3}
        )
        golden_set = set(int(i) for i in golden_idx)
        Item.objects.bulk_create(
            [
                Item(
                    campaign=campaign,
                    item_id=f"{slug}-{i:06d}",
                    media=f"bench/{i}.png",
                    media_type="image",
                    width=64,
                    height=64,
                    sha256=f"{i:064x}",
                    prompt=prompt,
                    generator=gens[i % 4],
                    is_golden=i in golden_set,
                    target=6,
                )
                for i in range(n)
            ],
            batch_size=5000,
        )
        pk_of = dict(Item.objects.filter(campaign=campaign).values_list("item_id", "pk"))
        User = get_user_model()
        now = timezone.now()
        for e in range(3):
            expert, _ = User.objects.get_or_create(username=f"{slug}-expert-{e}")
            batch = Batch.objects.create(
                campaign=campaign,
                annotator=expert,
                kind=Batch.Kind.EXPERT,
                status="closed",
                decision="approved",
                decision_source="auto",
                closed_at=now,
                scrutinized_at=now,
            )
            Rating.objects.bulk_create(
                [
                    Rating(
                        annotator=expert,
                        batch=batch,
                        item_id=pk_of[f"{slug}-{i:06d}"],
                        quality=int(world.experts["quality"][e, i]),
                        alignment=int(world.experts["alignment"][e, i]),
                    )
                    for i in golden_set
                ],
                batch_size=5000,
            )
        GoldenScore.objects.bulk_create(
            [
                GoldenScore(
                    item_id=pk_of[f"{slug}-{i:06d}"],
                    dimension=d,
                    score=float(world.golden[d][i]),
                    n_experts=3,
                    source=GoldenScore.Source.EXPERTS,
                )
                for i in golden_set
                for d in R.DIMENSIONS
            ],
            batch_size=5000,
        )
    index_of = {pk: int(item_id.rsplit("-", 1)[1]) for item_id, pk in pk_of.items()}
    return campaign, index_of, np.asarray(sorted(golden_set))


def make_users(slug: str, raters):
    from annotation.services.users import user_add

    return {r.name: user_add(username=f"{slug}-{r.name}", role="annotator") for r in raters}


# ------------------------------------------------------------------------------------------ paths


def run_api(campaign, index_of, world, raters, users, *, batches: int, rng) -> None:
    """Raters take turns asking for batches and rating every task, through the services."""
    from annotation.models import Task
    from annotation.services.assignment import batch_request
    from annotation.services.ratings import rating_submit

    order = [r for r in raters for _ in range(batches)]
    rng.shuffle(order)
    t0 = time.perf_counter()
    for k, rater in enumerate(order, 1):
        user = users[rater.name]
        batch, _ = batch_request(campaign=campaign, user=user)
        if batch is None:
            continue
        R.new_batch(rater, rng)
        tasks = list(Task.objects.filter(batch=batch).order_by("position").values_list("pk", "item_id"))
        idx = R.np.asarray([index_of[item_id] for _, item_id in tasks])
        scores, ms = R.rate(rater, idx, world)
        for j, (task_id, _) in enumerate(tasks):
            rating_submit(
                task_id=task_id, user=user, duration_ms=int(ms[j]), scores={d: int(scores[d][j]) for d in R.DIMENSIONS}
            )
        if k % 50 == 0 or k == len(order):
            print(f"    {k}/{len(order)} batches rated ({time.perf_counter() - t0:.0f} s)", flush=True)


def run_vendor(campaign, index_of, world, raters, *, per_rater: int, golden_idx, rng) -> None:
    """Every rater's whole file at once: per_rater items each, 40% of them golden (as the lab set)."""
    from annotation.services.vendor_ratings import ratings_import

    item_of = {i: f"{campaign.slug}-{i:06d}" for i in index_of.values()}
    regular = R.np.setdiff1d(R.np.arange(len(world.true["quality"])), golden_idx)
    lines = ["annotator,item_id,quality,alignment,duration_ms"]
    for rater in raters:
        n_golden = int(round(0.4 * per_rater))
        idx = R.np.concatenate(
            [
                rng.choice(golden_idx, size=n_golden, replace=False),
                rng.choice(regular, size=per_rater - n_golden, replace=False),
            ]
        )
        rng.shuffle(idx)
        R.new_batch(rater, rng)
        scores, ms = R.rate(rater, idx, world)
        for j, i in enumerate(idx):
            lines.append(
                f"{campaign.slug}-{rater.name},{item_of[int(i)]},{scores['quality'][j]},"
                f"{scores['alignment'][j]},{ms[j]}"
            )
    t0 = time.perf_counter()
    ratings_import(campaign=campaign, data="\n".join(lines) + "\n")
    print(
        f"    {len(raters)} vendor files ({len(lines) - 1} ratings) imported and scrutinized in "
        f"{time.perf_counter() - t0:.0f} s",
        flush=True,
    )


# ------------------------------------------------------------------------------------------ scoring


def outcomes(campaign, raters, slug: str) -> dict:
    from django.db.models import Count, Q

    from annotation.models import Batch, Rating

    by_rater: dict[str, list[str]] = {}
    for name, decision in (
        Batch.objects.filter(campaign=campaign)
        .exclude(kind=Batch.Kind.EXPERT)
        .order_by("pk")
        .values_list("annotator__username", "decision")
    ):
        by_rater.setdefault(name.removeprefix(f"{slug}-"), []).append(decision)
    result: dict[str, Any] = {
        "planted": 0,
        "planted_caught": 0,
        "missed": [],
        "genuine": Counter(),
        "genuine_batches": Counter(),
        "planted_batches": Counter(),
    }
    for r in raters:
        ds = by_rater.get(r.name, [])
        if r.planted:
            result["planted"] += 1
            result["planted_batches"].update(ds)
            if "approved" not in ds:
                result["planted_caught"] += 1
            else:
                result["missed"].append(f"{r.name} ({ds.count('approved')} of {len(ds)} approved)")
        else:
            result["genuine_batches"].update(ds)
            outcome = (
                "rejected"
                if "rejected" in ds
                else "held back"
                if "needs_review" in ds or "pending" in ds
                else "approved"
            )
            result["genuine"][outcome] += 1
    counts = (
        Rating.objects.filter(batch__campaign=campaign)
        .exclude(batch__kind=Batch.Kind.EXPERT)
        .aggregate(
            golden=Count("pk", filter=Q(item__is_golden=True)),
            approved_regular=Count("pk", filter=Q(item__is_golden=False, batch__decision=Batch.Decision.APPROVED)),
        )
    )
    result["golden_per_approved"] = (
        counts["golden"] / counts["approved_regular"] if counts["approved_regular"] else None
    )
    result["golden_ratings"], result["approved_regular_ratings"] = counts["golden"], counts["approved_regular"]
    return result


def explain(campaign, raters, slug: str) -> None:
    from annotation.models import Batch

    kinds = {f"{slug}-{r.name}": r for r in raters}
    for name, decision, reason in (
        Batch.objects.filter(campaign=campaign)
        .exclude(kind=Batch.Kind.EXPERT)
        .order_by("pk")
        .values_list("annotator__username", "decision", "decision_reason")
    ):
        rater = kinds.get(name)
        if rater and ((rater.planted and decision == "approved") or (not rater.planted and decision != "approved")):
            target = ", ".join(f"{d} {v:.2f}" for d, v in rater.target.items())
            print(f"      {rater.name} ({target}): {decision}: {reason[:300]}")


def report(label: str, res: dict, n_genuine: int) -> dict:
    g = res["genuine"]
    gb, pb = res["genuine_batches"], res["planted_batches"]
    share = {k: g.get(k, 0) / n_genuine for k in ("approved", "held back", "rejected")}
    cost = res["golden_per_approved"]
    print(f"  {label}")
    print(
        f"    planted caught       {res['planted_caught']}/{res['planted']}"
        + (f"   missed: {', '.join(res['missed'])}" if res["missed"] else "")
    )
    print(
        f"    genuine raters       approved {g.get('approved', 0)} ({share['approved']:.0%}), held back "
        f"{g.get('held back', 0)} ({share['held back']:.0%}), rejected {g.get('rejected', 0)} ({share['rejected']:.0%})"
        f" of {n_genuine}"
    )
    print(f"    genuine batches      {dict(gb)}")
    print(f"    planted batches      {dict(pb)}")
    print(
        f"    golden cost          {res['golden_ratings']} golden ratings / {res['approved_regular_ratings']} approved "
        f"regular = {cost:.3f} per approved rating"
        if cost is not None
        else "    golden cost          no approved rating"
    )
    return {
        "planted_caught": f"{res['planted_caught']}/{res['planted']}",
        "genuine_approved": share["approved"],
        "genuine_held_back": share["held back"],
        "genuine_rejected": share["rejected"],
        "golden_per_approved": None if cost is None else round(cost, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--golden-fraction", type=float, default=0.05)
    parser.add_argument("--genuine", type=int, default=40)
    parser.add_argument("--planted-each", type=int, default=2)
    parser.add_argument("--batches", type=int, default=8, help="Batches per rater on the API path.")
    parser.add_argument("--vendor-items", type=int, default=150, help="Items per rater's vendor file.")
    parser.add_argument("--paths", default="api,vendor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db", default="qeval_bench_qc")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="Print the reasons of genuine raters' batches held or rejected and of planted raters' batches approved.",
    )
    args = parser.parse_args()
    paths = [p for p in args.paths.split(",") if p]
    if not set(paths) <= {"api", "vendor"} or not paths:
        parser.error("--paths takes api, vendor or both")

    admin_sql(args.admin_url, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    admin_sql(args.admin_url, f'CREATE DATABASE "{args.db}"')
    os.environ["DATABASE_URL"] = args.admin_url.rsplit("/", 1)[0] + "/" + args.db
    os.environ["QEVAL_VAR_DIR"] = tempfile.mkdtemp(prefix="qeval-bench-qc-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    # Scrutiny runs when the closing transaction commits, in this process (as the worker would).
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    try:
        run(args, paths)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin_sql(args.admin_url, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


def run(args, paths) -> None:
    import numpy as np
    from django.core.management import call_command

    call_command("migrate", verbosity=0, stdout=io.StringIO())
    summary: dict = {}
    for path in paths:
        for method in METHODS:
            # The same world and raters for both methods: only the decision differs.
            world = R.make_world(args.items, args.seed)
            raters = R.make_raters(world, args.genuine, args.planted_each)
            rng = np.random.default_rng(args.seed + 1)
            golden_idx = rng.choice(args.items, size=int(args.items * args.golden_fraction), replace=False)
            slug = f"{path}-{method}"
            print(
                f"{path} path, {method}: {args.items} items, {len(golden_idx)} golden, {args.genuine} genuine + "
                f"{len(raters) - args.genuine} planted raters",
                flush=True,
            )
            t0 = time.perf_counter()
            campaign, index_of, golden_idx = seed_campaign(
                slug, method, world, golden_idx, batch_size=40, golden_per_batch=10
            )
            if path == "api":
                users = make_users(slug, raters)
                run_api(campaign, index_of, world, raters, users, batches=args.batches, rng=rng)
            else:
                run_vendor(
                    campaign, index_of, world, raters, per_rater=args.vendor_items, golden_idx=golden_idx, rng=rng
                )
            res = outcomes(campaign, raters, slug)
            if args.verbose:
                explain(campaign, raters, slug)
            summary[slug] = report(f"{path} / {method} ({time.perf_counter() - t0:.0f} s)", res, args.genuine)
    print()
    for path in paths:
        cal, fix = summary[f"{path}-calibrated"], summary[f"{path}-fixed"]
        caught_all = cal["planted_caught"].split("/")[0] == cal["planted_caught"].split("/")[1]
        cheaper = fix["golden_per_approved"] is None or (cal["golden_per_approved"] or 0) < fix["golden_per_approved"]
        goal = caught_all and cal["genuine_held_back"] <= 0.10 and cal["genuine_rejected"] <= 0.02 and cheaper
        print(
            f"{path}: goal (calibrated: all planted caught, <= 10% genuine held back, <= 2% rejected, fewer golden "
            f"ratings per approved rating than fixed) {'MET' if goal else 'NOT MET'}"
        )
        summary[f"{path}-goal_met"] = goal
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
