"""Import benchmark (not part of the test suite): a large manifest through the real import service.

Creates its own PostgreSQL database, migrates it, writes a manifest of N rows over F distinct small
images (several rows may share a file: the import probes and stores each file once), imports it into
a campaign with a job and progress reporting, and prints the time of each phase (read + check,
probe, store, write) and rows per second. Then imports the same manifest again to time the
duplicate check (it must fail on the first row without writing), and drops the database.

    .venv/bin/python benchmarks/import_items.py                    # 100K rows over 5K files
    .venv/bin/python benchmarks/import_items.py --rows 20000 --files 1000
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--files", type=int, default=5_000, help="distinct image files the rows point at")
    p.add_argument("--server", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--db", default="qeval_bench_imports")
    return p.parse_args(argv)


def psql(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def write_content(folder: Path, rows: int, files: int) -> Path:
    from PIL import Image

    rng = random.Random(7)
    (folder / "img").mkdir(parents=True)
    for f in range(files):
        w, h = rng.randint(48, 96), rng.randint(48, 96)
        buf = io.BytesIO()
        Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3)).save(buf, format="PNG")
        (folder / "img" / f"{f:06d}.png").write_bytes(buf.getvalue())
    words = "a red blue small large cat dog house tree car city river mountain at night in the rain".split()
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["item_id", "media_path", "media_type", "prompt", "generator", "category", "subcategory"])
        for r in range(rows):
            prompt = " ".join(rng.choice(words) for _ in range(rng.randint(4, 40))) + f" #{r % (rows // 2 + 1)}"
            out.writerow(
                [
                    f"bench-{r:07d}",
                    f"img/{r % files:06d}.png",
                    "image",
                    prompt,
                    f"gen-{r % 12}",
                    "Entity Generation",
                    "object",
                ]
            )
    return manifest


def main(argv=None) -> None:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="qeval-bench-import-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DATABASE_URL=f"{args.server}/{args.db}",
        QEVAL_VAR_DIR=str(tmp / "var"),
        MEDIA_ROOT=str(tmp / "media"),
        DEBUG="false",
    )
    psql(args.server, f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
    psql(args.server, f"CREATE DATABASE {args.db}")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from annotation.models import Item
        from annotation.services.campaigns import campaign_create
        from annotation.services.imports import items_import
        from annotation.services.jobs import Progress, job_create
        from core.errors import InvalidInput

        t0 = time.perf_counter()
        manifest = write_content(tmp / "content", args.rows, args.files)
        print(f"content: {args.rows:,} rows over {args.files:,} files written in {time.perf_counter() - t0:.1f}s")
        campaign = campaign_create(slug="bench")
        job = job_create(kind="import_items", params={}, campaign=campaign)
        marks: list[tuple[str, float]] = []

        def on_update(done, total, message):
            if message and (not marks or marks[-1][0] != message):
                marks.append((message, time.perf_counter()))

        start = time.perf_counter()
        result = items_import(campaign=campaign, manifest=manifest, progress=Progress(job, on_update), job=job)
        end = time.perf_counter()
        marks.append(("done", end))
        print(
            f"import: {result['items_created']:,} items, {result['prompts_created']:,} prompts, "
            f"{result['files_stored']:,} files in {end - start:.1f}s ({args.rows / (end - start):,.0f} rows/s)"
        )
        for (name, at), (_, until) in zip(marks, marks[1:]):
            print(f"  {name:<20} {until - at:7.2f}s")
        assert Item.objects.filter(campaign=campaign).count() == args.rows

        start = time.perf_counter()
        try:
            items_import(campaign=campaign, manifest=manifest)
        except InvalidInput as exc:
            print(f"re-import refused in {time.perf_counter() - start:.1f}s: {exc.message}")
    finally:
        from django.db import connections

        connections.close_all()
        psql(args.server, f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
