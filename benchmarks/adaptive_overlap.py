#!/usr/bin/env python
"""Benchmark: adaptive overlap against the paper's fixed 6 / 3 ratings per item (not part of the suite).

A world with a known truth, run through the real assignment, scrutiny and aggregation code on PostgreSQL
(its own database, qeval_bench_overlap, dropped at the end unless --keep):

- items (images and videos) from generators of different true quality, each with a latent true score on
  1-5 and an ambiguity (how much raters scatter on it: lognormal, sd 0.3 on the log);
- raters like real lab raters: correlation with the truth spread evenly over 0.3-0.9 (their noise set to
  give it), each with an offset (N(0, 0.35)); ratings rounded and clipped to 1-5; times per item;
- a 5% golden sample scored by three experts (so scrutiny knows each rater's noise);
- raters take turns asking for batches through `batch_request` and rating through `rating_submit`; the
  batch closes, scrutiny decides on commit (calibrated), and an admin approves what waits for review, as
  the desk would; until no work is left.

Two campaigns on the same world and raters: `fixed` (6 / 3, fullest first: the paper) and `adaptive`
(min 3 / 2, max 12, overlap_ci_target, selection by value). At the end, MOS by `mean` (the paper's) and
by `mle` (ITU-T P.910: raters weighed by their inconsistency). Printed: ratings spent, MOS error against
the latent truth (RMSE, SRCC; instance level), the generator ranking against the true one (Kendall tau),
and the ratings spent before the live leaderboard's ranking settled (its Kendall tau against the
true ranking at or above --settle-tau from then on). Goal: the same MOS accuracy as fixed 6/3 with at least 30% fewer ratings, and the ranking
settled sooner. The last line is one JSON object.

Usage:  .venv/bin/python benchmarks/adaptive_overlap.py [--images 1000] [--videos 500] [--raters 120]
        [--ci-target 1.2] [--seed 0] [--keep]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

N_GENERATORS = 8
# The MOS estimators compared: the paper's mean, P.910's subject model, and that model with each item
# borrowing strength from its generator (empirical Bayes: annotation/aggregation/methods/mle.py).
ESTIMATORS: dict[str, tuple[str, dict | None]] = {
    "mean": ("mean", None),
    "mle": ("mle", None),
    "mle+generator": ("mle", {"group_prior": True}),
}
ADAPTIVE_ESTIMATOR = "mle+generator"  # the MOS of an adaptive campaign (docs/loop.md)


def admin_sql(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


class World:
    def __init__(self, images: int, videos: int, raters: int, seed: int):
        import numpy as np

        rng = np.random.default_rng(seed)
        self.rng = rng
        n = images + videos
        self.media = np.array(["image"] * images + ["video"] * videos)
        self.generator = rng.integers(0, N_GENERATORS, n) + np.where(self.media == "video", N_GENERATORS, 0)
        gen_quality = {
            "quality": rng.uniform(2.0, 4.2, 2 * N_GENERATORS),
            "alignment": rng.uniform(2.2, 4.3, 2 * N_GENERATORS),
        }
        self.latent = {
            d: np.clip(gen_quality[d][self.generator] + rng.normal(0, 0.8, n), 0.8, 5.2)
            for d in ("quality", "alignment")
        }
        self.truth = {d: np.clip(v, 1, 5) for d, v in self.latent.items()}
        self.ambiguity = rng.lognormal(0, 0.3, n)
        corr = rng.uniform(0.3, 0.9, raters)
        spread = float(np.std(self.latent["quality"]))
        self.noise = spread * np.sqrt(1 / corr**2 - 1)
        self.bias = rng.normal(0, 0.35, raters)
        self.median_ms = rng.uniform(2500, 9000, raters)
        self.golden = rng.choice(n, size=max(20, n // 20), replace=False)

    def rate(self, rater: int, items):
        import numpy as np

        out = {}
        for d in ("quality", "alignment"):
            x = self.latent[d][items] + self.bias[rater] + self.rng.normal(0, self.noise[rater] * self.ambiguity[items])
            out[d] = np.clip(np.rint(x), 1, 5).astype(int)
        ms = (self.median_ms[rater] * np.exp(self.rng.normal(0, 0.4, len(items)))).astype(int)
        return out, ms

    def experts(self, items):
        import numpy as np

        return {
            d: np.stack(
                [np.clip(np.rint(self.latent[d][items] + self.rng.normal(0, 0.5, len(items))), 1, 5) for _ in range(3)]
            ).astype(int)
            for d in ("quality", "alignment")
        }


def seed_campaign(slug: str, world: World, **settings):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from annotation.models import Batch, Generator, GoldenScore, Item, Prompt, Rating
    from annotation.services.campaigns import campaign_create

    campaign = campaign_create(slug=slug, batch_size=30, golden_per_batch=5, **settings)
    gens = {
        g: Generator.objects.get_or_create(name=f"gen-{g:02d}", media_type="video" if g >= N_GENERATORS else "image")[0]
        for g in set(world.generator.tolist())
    }
    prompt, _ = Prompt.objects.get_or_create(text_sha256="c" * 64, defaults={"text": "a bench prompt", "word_count": 3})
    golden = set(world.golden.tolist())
    Item.objects.bulk_create(
        [
            Item(
                campaign=campaign,
                item_id=f"{slug}-{i:06d}",
                media=f"bench/{i}",
                media_type=str(world.media[i]),
                width=64,
                height=64,
                sha256=f"{i:064x}",
                prompt=prompt,
                generator=gens[int(world.generator[i])],
                is_golden=i in golden,
                target=campaign.target_for(str(world.media[i])),
            )
            for i in range(len(world.media))
        ],
        batch_size=5000,
    )
    pk_of = dict(Item.objects.filter(campaign=campaign).values_list("item_id", "pk"))
    idx = sorted(golden)
    scores = world.experts(idx)
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
                    quality=int(scores["quality"][e, k]),
                    alignment=int(scores["alignment"][e, k]),
                )
                for k, i in enumerate(idx)
            ]
        )
    GoldenScore.objects.bulk_create(
        [
            GoldenScore(
                item_id=pk_of[f"{slug}-{i:06d}"],
                dimension=d,
                score=float(scores[d][:, k].mean()),
                n_experts=3,
                source=GoldenScore.Source.EXPERTS,
            )
            for k, i in enumerate(idx)
            for d in ("quality", "alignment")
        ]
    )
    return campaign, {pk: int(item_id.rsplit("-", 1)[1]) for item_id, pk in pk_of.items()}


def true_ranking(world: World, media: str, dim: str) -> list[str]:
    import numpy as np

    gens = sorted(set(world.generator[world.media == media].tolist()))
    means = {g: float(np.mean(world.truth[dim][(world.generator == g)])) for g in gens}
    return [f"gen-{g:02d}" for g in sorted(gens, key=lambda g: -means[g])]


def ranking_tau(ranked: list[str] | None, truth: list[str]) -> float:
    """Kendall tau between a ranking (best first) and the true one (-1 when missing)."""
    from scipy.stats import kendalltau

    if not ranked or len(ranked) < 2:
        return -1.0
    pos = {g: i for i, g in enumerate(truth)}
    common = [g for g in ranked if g in pos]
    if len(common) < 2:
        return -1.0
    return float(kendalltau(range(len(common)), [pos[g] for g in common]).statistic)


def run_campaign(
    slug: str, world: World, settings: dict, *, check_every: int, settle_tau: float, tick_every: int = 20
) -> dict:
    import numpy as np

    from annotation.models import Batch, Task
    from annotation.services.assignment import batch_request
    from annotation.services.leaderboard import board_rankings, leaderboard  # noqa: I001
    from annotation.services.ratings import rating_submit
    from annotation.services.scrutiny import batch_admin_decide
    from annotation.services.users import user_add
    from training.services.retraining import closed_loop_tick

    campaign, index_of = seed_campaign(slug, world, **settings)
    admin = user_add(username=f"{slug}-admin", role="admin")
    users = [user_add(username=f"{slug}-r{r:03d}", role="annotator") for r in range(len(world.noise))]
    truths = {(m, d): true_ranking(world, m, d) for m in ("image", "video") for d in ("quality", "alignment")}
    active = list(range(len(users)))
    spent = 0
    settled_at: dict = {}
    batches = 0
    t0 = time.perf_counter()
    while active:
        world.rng.shuffle(active)
        for r in list(active):
            batch, _ = batch_request(campaign=campaign, user=users[r])
            if batch is None:
                active.remove(r)
                continue
            tasks = list(Task.objects.filter(batch=batch).order_by("position").values_list("pk", "item_id"))
            idx = np.array([index_of[i] for _, i in tasks])
            scores, ms = world.rate(r, idx)
            for j, (task_id, _) in enumerate(tasks):
                rating_submit(
                    task_id=task_id,
                    user=users[r],
                    duration_ms=int(ms[j]),
                    scores={d: int(scores[d][j]) for d in ("quality", "alignment")},
                )
            spent += len(tasks)
            batch.refresh_from_db()
            if batch.decision == Batch.Decision.NEEDS_REVIEW:  # the desk's admin approves what waits
                batch_admin_decide(batch_id=batch.pk, decision="approve", reason="", user=admin)
            batches += 1
            if batches % tick_every == 0:  # the beat task's closed-loop tick, as on a deployment
                closed_loop_tick()
            if batches % check_every == 0:
                ranks = board_rankings(leaderboard(campaign=campaign, use_cache=False))
                for key, truth in truths.items():
                    ok = ranking_tau(ranks.get(key), truth) >= settle_tau
                    if ok and key not in settled_at:
                        settled_at[key] = spent
                    elif not ok:
                        settled_at.pop(key, None)
        print(f"    {slug}: {batches} batches, {spent} ratings ({time.perf_counter() - t0:.0f} s)", flush=True)
    return {"campaign": campaign, "index_of": index_of, "spent": spent, "settled_at": settled_at}


def evaluate(run: dict, world: World) -> dict:
    import numpy as np
    from scipy.stats import kendalltau, spearmanr

    from annotation.models import Batch, Rating
    from annotation.services.mos import mos_aggregate

    campaign, index_of = run["campaign"], run["index_of"]
    regular = Rating.objects.filter(
        item__campaign=campaign, item__is_golden=False, batch__decision=Batch.Decision.APPROVED
    )
    out: dict[str, Any] = {
        "ratings": regular.count(),
        "ratings_with_golden": Rating.objects.filter(item__campaign=campaign)
        .exclude(batch__kind=Batch.Kind.EXPERT)
        .count(),
    }
    for name, (method, params) in ESTIMATORS.items():
        version = mos_aggregate(campaign=campaign, method=method, params=params)
        per = {}
        for dim in ("quality", "alignment"):
            rows = list(version.scores.filter(dimension=dim, item__is_golden=False).values_list("item_id", "mos"))
            idx = np.array([index_of[i] for i, _ in rows])
            mos = np.array([m for _, m in rows])
            truth = world.truth[dim][idx]
            tau = []
            for media in ("image", "video"):
                sel = world.media[idx] == media
                gens = sorted(set(world.generator[idx][sel].tolist()))
                est = [float(np.mean(mos[sel][world.generator[idx][sel] == g])) for g in gens]
                tru = [float(np.mean(world.truth[dim][world.generator == g])) for g in gens]
                tau.append(float(kendalltau(est, tru).statistic))
            per[dim] = {
                "rmse": float(np.sqrt(np.mean((mos - truth) ** 2))),
                "srcc": float(spearmanr(mos, truth).statistic),
                "tau": float(np.mean(tau)),
                "items": len(rows),
            }
        out[name] = {k: round(float(np.mean([per[d][k] for d in per])), 4) for k in ("rmse", "srcc", "tau")}
        out[name]["per_dimension"] = per
    settled = run["settled_at"]
    out["settled_after"] = {
        f"{m} {d}": settled.get((m, d)) for m in ("image", "video") for d in ("quality", "alignment")
    }
    return out


def settle_summary(fixed: dict, adaptive: dict) -> dict[str, int]:
    """Boards whose ranking settled sooner / later / as soon under adaptive overlap (a board that never
    settled within a run counts as later than one that did)."""
    out = {"sooner": 0, "later": 0, "same": 0, "neither": 0}
    for key, f in fixed.items():
        a = adaptive.get(key)
        if f is None and a is None:
            out["neither"] += 1
        elif a is not None and (f is None or a < f):
            out["sooner"] += 1
        elif f is not None and (a is None or a > f):
            out["later"] += 1
        else:
            out["same"] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--videos", type=int, default=500)
    parser.add_argument("--raters", type=int, default=120)
    parser.add_argument("--ci-target", type=float, default=None, help="overlap_ci_target (default: the campaign's)")
    parser.add_argument("--min-image", type=int, default=None, help="min_ratings_per_image (default: the campaign's)")
    parser.add_argument("--min-video", type=int, default=None, help="min_ratings_per_video (default: the campaign's)")
    parser.add_argument("--check-every", type=int, default=10, help="Batches between leaderboard checks.")
    parser.add_argument(
        "--settle-tau",
        type=float,
        default=0.8,
        help="The ranking is settled once its Kendall tau against the true ranking stays at or above this.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db", default="qeval_bench_overlap")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    admin_sql(args.admin_url, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    admin_sql(args.admin_url, f'CREATE DATABASE "{args.db}"')
    os.environ["DATABASE_URL"] = args.admin_url.rsplit("/", 1)[0] + "/" + args.db
    os.environ["QEVAL_VAR_DIR"] = tempfile.mkdtemp(prefix="qeval-bench-overlap-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
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
    from django.core.management import call_command

    call_command("migrate", verbosity=0, stdout=io.StringIO())
    adaptive = {"overlap_policy": "adaptive", "selection_policy": "value"}
    for arg, field in (
        ("ci_target", "overlap_ci_target"),
        ("min_image", "min_ratings_per_image"),
        ("min_video", "min_ratings_per_video"),
    ):
        if getattr(args, arg) is not None:
            adaptive[field] = getattr(args, arg)
    results = {}
    for name, settings in (("fixed", {"ratings_per_image": 6, "ratings_per_video": 3}), ("adaptive", adaptive)):
        world = World(args.images, args.videos, args.raters, args.seed)  # the same world for both
        print(f"{name}: {args.images} images, {args.videos} videos, {args.raters} raters", flush=True)
        results[name] = evaluate(
            run_campaign(name, world, settings, check_every=args.check_every, settle_tau=args.settle_tau), world
        )
    f, a = results["fixed"], results["adaptive"]
    print()
    print(f"{'':30} {'fixed 6/3':>12} {'adaptive':>12}")
    saved = 1 - a["ratings"] / f["ratings"]
    print(f"{'ratings (regular items)':30} {f['ratings']:>12} {a['ratings']:>12}   ({saved:.0%} fewer)")
    for method in ESTIMATORS:
        for k in ("rmse", "srcc", "tau"):
            print(f"{method + ' ' + k:30} {f[method][k]:>12.4f} {a[method][k]:>12.4f}")
    for key in f["settled_after"]:
        fs, as_ = f["settled_after"][key], a["settled_after"][key]
        print(f"{'ranking settled, ' + key:30} {str(fs):>12} {str(as_):>12}  (ratings spent)")
    settle = settle_summary(f["settled_after"], a["settled_after"])
    print(
        f"{'ranking settled sooner adaptive':30} on {settle['sooner']} of {len(f['settled_after'])} boards "
        f"(later on {settle['later']}, as soon on {settle['same']}, on neither within the run: {settle['neither']})"
    )
    best = a[ADAPTIVE_ESTIMATOR]
    same_accuracy = best["rmse"] <= f["mean"]["rmse"] and best["srcc"] >= f["mean"]["srcc"]
    fewer = a["ratings"] <= 0.7 * f["ratings"]
    print(
        f"goal (adaptive + {ADAPTIVE_ESTIMATOR} at least as accurate as fixed 6/3 + mean, with >= 30% fewer "
        f"ratings): {'MET' if same_accuracy and fewer else 'NOT MET'}"
    )
    print(
        json.dumps(
            {
                "ratings_fixed": f["ratings"],
                "ratings_adaptive": a["ratings"],
                "rmse_fixed": f["mean"]["rmse"],
                "rmse_adaptive": best["rmse"],
                "srcc_fixed": f["mean"]["srcc"],
                "srcc_adaptive": best["srcc"],
                "tau_fixed": f["mean"]["tau"],
                "tau_adaptive": best["tau"],
                "adaptive_estimator": ADAPTIVE_ESTIMATOR,
                "rmse_fixed_mle": f["mle"]["rmse"],
                "srcc_fixed_mle": f["mle"]["srcc"],
                "rmse_fixed_mle_generator": f["mle+generator"]["rmse"],
                "srcc_fixed_mle_generator": f["mle+generator"]["srcc"],
                "rmse_adaptive_mle": a["mle"]["rmse"],
                "srcc_adaptive_mle": a["mle"]["srcc"],
                "rmse_adaptive_mean": a["mean"]["rmse"],
                "srcc_adaptive_mean": a["mean"]["srcc"],
                "settled_fixed": f["settled_after"],
                "settled_adaptive": a["settled_after"],
                "settled_sooner_boards": settle["sooner"],
                "settled_later_boards": settle["later"],
                "goal_met": bool(same_accuracy and fewer),
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
