#!/usr/bin/env python
"""Benchmark: MOS aggregation and exports at the paper's scale (not part of the test suite).

Creates its own PostgreSQL database (qeval_bench_mos by default; dropped at the end unless --keep),
seeds 100K items (60K images, 40K videos, 20 generators, 25K prompts) and 1M ratings (10 per item from
400 annotators with planted biases and inconsistencies, 5% of them careless) with COPY, then prints:

- aggregation time per method (mean, zscore, bt500, mle), split into query, compute and write time, the
  total beside the computation's own time (`compute`: the aggregation package and the rows to write)
  and against the goal (1M ratings to a version in <= 3 s); then, as the baseline of the same run, the
  ORM path (the one SQLite takes: rows streamed with .iterator(), bulk_create) for `mean`;
- export time and peak memory per format (mos-csv, mos-jsonl, mos-parquet, sft), each export in a
  subprocess of its own: the time split into reading the rows (the database) and formatting and writing
  them, against the goal (<= 3 s); RSS when the export starts (Django and the writers imported, the
  high-water mark reset), after its first chunk of items and at its peak (VmHWM): streaming means the
  peak stays near the first chunk's, whatever the item count; media=none (the items have no files here);
- SUREAL's P.910 model (MLE_CO) on a subset of the same ratings, if `sureal` can be imported (set
  SUREAL_PATH to a --target folder, e.g. /tmp/sureal), its time against ours and the largest score
  difference; otherwise a line saying it is not installed.

Usage:  .venv/bin/python benchmarks/aggregate_export.py [--items 100000] [--ratings-per-item 10]
        [--admin-url postgres://postgres@127.0.0.1:5432/postgres] [--db qeval_bench_mos] [--keep]
        [--no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
FORMATS = ("mos-csv", "mos-jsonl", "mos-parquet", "sft")
GOAL_AGGREGATE_S = 3.0  # issue #19: 1M ratings to a dataset version, end to end, every method
GOAL_EXPORT_S = 3.0  # issue #19: a 100K-item MOS or SFT export, at flat memory
# Item columns with only a Django-side default: a raw COPY must give them (what Item() would).
ITEM_EXTRA_COLUMNS = "shuffle_key, priority, priority_scale, priority_bonus, is_held, split"


def item_extra(rng) -> tuple:
    return int(rng.integers(0, 2**31)), 1.0, 1.0, 0.0, False, ""


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_reset() -> None:
    """Reset the process's RSS high-water mark (Linux: write 5 to clear_refs), so VmHWM measures from now.
    (ru_maxrss cannot be used in a child: Linux carries the parent's value across fork + exec.)"""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def rss_mb() -> float:
    return _status_mb("VmRSS") or maxrss_mb()


def peak_mb() -> float:
    return _status_mb("VmHWM") or maxrss_mb()


def setup_django(db_url: str, var_dir: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ["QEVAL_VAR_DIR"] = var_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _goal(seconds: float, goal: float) -> str:
    return "met" if seconds <= goal else "missed"


def db_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def admin_sql(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


# ---------------------------------------------------------------------------------------------- seed


def seed(n_items: int, per_item: int, n_annotators: int, seed_: int = 0) -> dict:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Batch, Campaign, Generator, Item, Prompt

    rng = np.random.default_rng(seed_)
    t0 = time.perf_counter()
    campaign = Campaign.objects.create(
        slug="bench", name="Bench", ratings_per_image=per_item, ratings_per_video=per_item
    )
    n_img = int(n_items * 0.6)
    gens = [Generator.objects.create(name=f"img-gen-{k}", media_type="image") for k in range(10)]
    gens += [Generator.objects.create(name=f"vid-gen-{k}", media_type="video") for k in range(10)]
    gen_mean_q = rng.uniform(2.2, 4.0, 20)
    gen_mean_a = rng.uniform(2.5, 4.2, 20)
    n_prompts = max(1, n_items // 4)
    stamp = "2026-01-01 00:00:00+00"
    with connection.cursor() as cur:
        with cur.cursor.copy(
            "COPY annotation_prompt (text, text_sha256, category, subcategory, word_count) FROM STDIN"
        ) as cp:
            for p in range(n_prompts):
                text = f"benchmark prompt {p} with a red cube and a small dog on a table"
                cp.write_row((text, f"{p:064x}", "Entity Generation", "", len(text.split())))
    prompt_ids = np.array(list(Prompt.objects.order_by("id").values_list("id", flat=True)))
    item_gen = np.concatenate([rng.integers(0, 10, n_img), rng.integers(10, 20, n_items - n_img)])
    item_prompt = prompt_ids[rng.integers(0, n_prompts, n_items)]
    gen_ids = np.array([g.pk for g in gens])
    with connection.cursor() as cur:
        with cur.cursor.copy(
            "COPY annotation_item (campaign_id, item_id, media, thumbnail, media_type, width, height, sha256, prompt_id, "
            "generator_id, is_golden, target, active_count, created_at, " + ITEM_EXTRA_COLUMNS + ") FROM STDIN"
        ) as cp:
            for i in range(n_items):
                is_img = i < n_img
                sha = f"{i:064x}"
                cp.write_row(
                    (
                        campaign.pk,
                        f"it-{i:07d}",
                        f"media/{sha[:2]}/{sha}.{'png' if is_img else 'mp4'}",
                        "",
                        "image" if is_img else "video",
                        512,
                        512,
                        sha,
                        int(item_prompt[i]),
                        int(gen_ids[item_gen[i]]),
                        False,
                        per_item,
                        per_item,
                        stamp,
                        *item_extra(rng),
                    )
                )
    item_ids = np.array(list(Item.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True)))
    User = get_user_model()
    User.objects.bulk_create([User(username=f"bench-ann-{k}", password="!") for k in range(n_annotators)])
    users = np.array(
        list(User.objects.filter(username__startswith="bench-ann-").order_by("id").values_list("id", flat=True))
    )
    Batch.objects.bulk_create(
        [Batch(campaign=campaign, annotator_id=int(u), status="closed", decision="approved") for u in users]
    )
    batch_of = dict(Batch.objects.filter(campaign=campaign).values_list("annotator_id", "id"))
    # Planted annotator effects: bias ~ N(0, 0.4), inconsistency U(0.3, 1.0); 5% careless (sd 2).
    bias = rng.normal(0, 0.4, n_annotators)
    inc = rng.uniform(0.3, 1.0, n_annotators)
    inc[rng.random(n_annotators) < 0.05] = 2.0
    true_q = np.clip(gen_mean_q[item_gen] + rng.normal(0, 0.6, n_items), 1, 5)
    true_a = np.clip(gen_mean_a[item_gen] + rng.normal(0, 0.6, n_items), 1, 5)
    n_ratings = 0
    with connection.cursor() as cur:
        with cur.cursor.copy(
            "COPY annotation_rating (annotator_id, item_id, batch_id, quality, alignment, created_at) FROM STDIN"
        ) as cp:
            for start in range(0, n_items, 10_000):
                stop = min(n_items, start + 10_000)
                pick = rng.random((stop - start, n_annotators)).argpartition(per_item, axis=1)[:, :per_item]
                idx = np.repeat(np.arange(start, stop), per_item)
                ann = pick.ravel()
                noise = rng.normal(0, 1, (2, len(idx))) * inc[ann]
                q = np.clip(np.rint(true_q[idx] + bias[ann] + noise[0]), 1, 5).astype(int)
                a = np.clip(np.rint(true_a[idx] + bias[ann] + noise[1]), 1, 5).astype(int)
                buf = io.StringIO()
                for it, an, qq, aa in zip(item_ids[idx].tolist(), users[ann].tolist(), q.tolist(), a.tolist()):
                    buf.write(f"{an}\t{it}\t{batch_of[an]}\t{qq}\t{aa}\t{stamp}\n")
                cp.write(buf.getvalue())
                n_ratings += len(idx)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {
        "campaign": campaign,
        "items": n_items,
        "ratings": n_ratings,
        "annotators": n_annotators,
        "seconds": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------------------------------------- export child


def export_one(args) -> None:
    """Child process: one export, prints JSON with its time and ru_maxrss delta."""
    setup_django(args.url, args.var_dir)
    import pyarrow.parquet  # noqa: F401  (imported before the baseline: part of the process, not the export)

    import annotation.services.exports as exports
    from annotation.services.exports import dataset_export
    from annotation.services.mos import version_get

    version = version_get(version_id=args.version_id)
    chunks = exports.version_chunks
    seen = {"read_s": 0.0, "first_chunk_mb": None}

    def timed(it):
        """The export's chunks, timed: seconds spent waiting for rows, RSS after the first chunk."""
        while True:
            t = time.perf_counter()
            try:
                chunk = next(it)
            except StopIteration:
                seen["read_s"] += time.perf_counter() - t
                return
            seen["read_s"] += time.perf_counter() - t
            yield chunk
            if seen["first_chunk_mb"] is None:
                seen["first_chunk_mb"] = rss_mb()

    @contextlib.contextmanager
    def timed_chunks(**kwargs):
        t = time.perf_counter()
        with chunks(**kwargs) as it:  # entering runs the query (PostgreSQL)
            seen["read_s"] += time.perf_counter() - t
            yield timed(it)

    exports.version_chunks = timed_chunks  # the benchmark's own probe; the export itself is unchanged
    peak_reset()
    before = rss_mb()
    t0 = time.perf_counter()
    manifest = dataset_export(
        version=version, fmt=args.export_one, out=args.out, media="none", split="train=0.8,val=0.1,test=0.1", seed=0
    )
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in Path(args.out).iterdir() if p.is_file())
    print(
        json.dumps(
            {
                "format": args.export_one,
                "seconds": seconds,
                "read_s": seen["read_s"],
                "rss_before_mb": before,
                "rss_first_chunk_mb": seen["first_chunk_mb"] or before,
                "rss_peak_mb": peak_mb(),
                "rows": sum(manifest["counts"].values()),
                "bytes": size,
            }
        )
    )


# ---------------------------------------------------------------------------------------------- sureal


def sureal_compare(n_subset: int) -> str:
    """SUREAL's MLE_CO against our `mle` on the quality ratings of the first n_subset items."""
    if n_subset <= 0:
        return "skipped (--sureal-items 0)"
    path = os.environ.get("SUREAL_PATH", "/tmp/sureal")
    if Path(path).is_dir():
        sys.path.insert(0, path)
    try:
        from sureal.dataset_reader import RawDatasetReader
        from sureal.subjective_model import MaximumLikelihoodEstimationModelContentOblivious
    except Exception as exc:  # noqa: BLE001
        return f"sureal is not installed ({type(exc).__name__}: {exc}); set SUREAL_PATH to a pip --target folder"
    import contextlib
    import types
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning)

    import numpy as np
    import pandas as pd

    from annotation.aggregation import aggregate
    from annotation.models import Campaign
    from annotation.services.mos import ratings_arrays

    arrays = ratings_arrays(campaign=Campaign.objects.get(slug="bench"))
    keep_items = np.unique(arrays["item"])[:n_subset]
    mask = np.isin(arrays["item"], keep_items)
    frame = pd.DataFrame(
        {"item": arrays["item"][mask], "annotator": arrays["annotator"][mask], "score": arrays["quality"][mask]}
    )
    t0 = time.perf_counter()
    ours = aggregate(frame, method="mle")
    ours_s = time.perf_counter() - t0
    os_by_item: dict[int, dict] = {}
    for it, an, sc in zip(frame["item"].tolist(), frame["annotator"].tolist(), frame["score"].tolist()):
        os_by_item.setdefault(it, {})[f"s{an}"] = sc
    items = sorted(os_by_item)
    ds = types.SimpleNamespace(
        dataset_name="bench",
        yuv_fmt="yuv420p",
        width=1,
        height=1,
        ref_videos=[{"content_id": 0, "content_name": "c", "path": "r"}],
        dis_videos=[
            {"content_id": 0, "asset_id": k, "os": os_by_item[it], "path": f"d{k}"} for k, it in enumerate(items)
        ],
    )
    t0 = time.perf_counter()
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        # delta_thr = our mle's default tol (1e-6); SUREAL's own default (1e-8) only adds iterations.
        result = MaximumLikelihoodEstimationModelContentOblivious(RawDatasetReader(ds)).run_modeling(delta_thr=1e-6)
    sureal_s = time.perf_counter() - t0
    theirs = np.array(result["quality_scores"])
    mine = ours.items.loc[items, "mos"].to_numpy()
    # Our pure ML variant (no dof correction; v_min only guards against v -> 0) is SUREAL's estimator.
    pure = (
        aggregate(frame, method="mle", params={"dof_correction": False, "v_min": 1e-3})
        .items.loc[items, "mos"]
        .to_numpy()
    )
    from scipy.stats import spearmanr

    return (
        f"sureal MLE_CO on {len(items)} items / {len(frame)} ratings (quality): {sureal_s:.2f} s; ours (mle): "
        f"{ours_s:.3f} s; ratio {sureal_s / max(ours_s, 1e-9):.0f}x; largest |score difference| "
        f"{np.nanmax(np.abs(mine - theirs)):.4f} ({int(np.isnan(theirs).sum())} NaN from sureal); SRCC "
        f"{spearmanr(mine, theirs).statistic:.5f}; ours with dof_correction=False, v_min=1e-3: largest "
        f"|difference| {np.nanmax(np.abs(pure - theirs)):.4f}, SRCC {spearmanr(pure, theirs).statistic:.5f}"
    )


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--ratings-per-item", type=int, default=10)
    parser.add_argument("--annotators", type=int, default=400)
    parser.add_argument(
        "--admin-url", default=os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--db", default="qeval_bench_mos")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--no-baseline", action="store_true", help="Skip the ORM path's aggregation (the same run's baseline)."
    )
    parser.add_argument("--sureal-items", type=int, default=1000, help="Items in the SUREAL comparison subset.")
    parser.add_argument("--sureal-timeout", type=int, default=900, help="Seconds SUREAL may take (default 900).")
    parser.add_argument("--sureal-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--export-one", help=argparse.SUPPRESS)
    parser.add_argument("--version-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--var-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_one:
        return export_one(args)
    if args.sureal_child is not None:
        setup_django(args.url, args.var_dir)
        print(sureal_compare(args.sureal_child))
        return None

    url = db_url(args.admin_url, args.db)
    admin_sql(args.admin_url, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    admin_sql(args.admin_url, f'CREATE DATABASE "{args.db}"')
    var_dir = tempfile.mkdtemp(prefix="qeval-bench-mos-")
    try:
        setup_django(url, var_dir)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(
            f"CPU: {os.cpu_count()} cores (shared with other jobs: timings are upper bounds); "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        s = seed(args.items, args.ratings_per_item, args.annotators)
        print(
            f"seeded {s['items']:,} items, {s['ratings']:,} ratings, {s['annotators']} annotators "
            f"in {s['seconds']:.1f} s (COPY)"
        )

        from annotation.aggregation import METHODS
        from annotation.services.mos import mos_aggregate

        print(f"\naggregation (both dimensions, {s['ratings']:,} ratings each; goal: total <= {GOAL_AGGREGATE_S:g} s):")
        print(
            f"{'method':8} {'query s':>8} {'compute s':>10} {'write s':>8} {'total s':>8} "
            f"{'x compute':>9} {'goal':>6} {'rejected':>8}"
        )
        version_id = None
        # Every method, and mle with the generator prior (the MOS of an adaptive-overlap campaign).
        runs = [(m, m, None) for m in METHODS] + [("mle+gen", "mle", {"group_prior": True})]
        for label, method, params in runs:
            t0 = time.perf_counter()
            version = mos_aggregate(campaign=s["campaign"], method=method, params=params)
            total = time.perf_counter() - t0
            tm = version.counts["timings"]
            write_s = version.write_s  # type: ignore[attr-defined]  # set by mos_aggregate for benchmarks
            rejected = sum(d["rejected_annotators"] for d in version.counts["dimensions"].values())
            print(
                f"{label:8} {tm['query_s']:8.2f} {tm['compute_s']:10.2f} {write_s:8.2f} {total:8.2f} "
                f"{total / max(tm['compute_s'], 1e-9):8.1f}x {_goal(total, GOAL_AGGREGATE_S):>6} {rejected:8d}"
            )
            if label == "mean":
                version_id = version.pk
        if not args.no_baseline:
            t0 = time.perf_counter()
            orm = mos_aggregate(campaign=s["campaign"], method="mean", bulk=False)
            total = time.perf_counter() - t0
            tm = orm.counts["timings"]
            print(
                f"{'mean ORM':8} {tm['query_s']:8.2f} {tm['compute_s']:10.2f} {orm.write_s:8.2f} {total:8.2f} "  # type: ignore[attr-defined]
                f"{total / max(tm['compute_s'], 1e-9):8.1f}x {_goal(total, GOAL_AGGREGATE_S):>6}   "
                "(baseline: the ORM path SQLite takes, same data)"
            )
        print(f"main process peak RSS: {maxrss_mb():.0f} MB")

        print(
            "\nexports of the mean version (split train=0.8,val=0.1,test=0.1, media=none), one subprocess each; "
            f"goal: <= {GOAL_EXPORT_S:g} s at flat memory:"
        )
        print(
            f"{'format':12} {'seconds':>8} {'read s':>7} {'format s':>8} {'goal':>6} {'rows':>9} {'MB out':>7} "
            f"{'RSS start':>9} {'1st chunk':>9} {'peak MB':>8} {'growth':>7}"
        )
        for fmt in FORMATS:
            out = Path(var_dir) / f"export-{fmt}"
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--export-one",
                    fmt,
                    "--version-id",
                    str(version_id),
                    "--out",
                    str(out),
                    "--url",
                    url,
                    "--var-dir",
                    var_dir,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode:
                print(f"{fmt:12} FAILED: {proc.stderr.strip()[-500:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            # growth: peak RSS over the RSS after the first 10K-item chunk (flat memory: a few MB at most)
            print(
                f"{fmt:12} {r['seconds']:8.2f} {r['read_s']:7.2f} {r['seconds'] - r['read_s']:8.2f} "
                f"{_goal(r['seconds'], GOAL_EXPORT_S):>6} {r['rows']:9,} {r['bytes'] / 1e6:7.1f} "
                f"{r['rss_before_mb']:9.0f} {r['rss_first_chunk_mb']:9.0f} {r['rss_peak_mb']:8.0f} "
                f"{r['rss_peak_mb'] - r['rss_first_chunk_mb']:7.0f}"
            )

        print(f"load average at the end of the exports: {os.getloadavg()[0]:.1f}")
        print("\nSUREAL (P.910 / MLE_CO reference implementation):")
        try:  # a child process, so a slow SUREAL run can be cut off
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--sureal-child",
                    str(args.sureal_items),
                    "--url",
                    url,
                    "--var-dir",
                    var_dir,
                ],
                capture_output=True,
                text=True,
                timeout=args.sureal_timeout,
                check=False,
            )
            lines = proc.stdout.strip().splitlines()
            print(lines[-1] if lines else f"sureal run failed: {proc.stderr.strip()[-500:]}")
        except subprocess.TimeoutExpired:
            print(
                f"sureal MLE_CO did not finish within {args.sureal_timeout} s on a {args.sureal_items}-item subset "
                "(ours: see the mle row above, for all 100K items)"
            )
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin_sql(args.admin_url, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        import shutil

        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
