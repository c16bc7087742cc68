"""How long the benchmark report (training.scorer.benchmark) takes on a paper-sized test split.

Synthetic predictions (no model): ``--items`` items (60% images, 40% videos, 17 generators, 12 categories),
both dimensions, ``--methods`` methods of decreasing quality, ``--bootstrap`` resamples. Prints the seconds for
the report (every cell's points, intervals and paired tests) and for writing Markdown/HTML/JSON.

    python benchmarks/benchmark_report_speed.py [--items 10000] [--methods 6] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rows(items: int, methods: int, seed: int = 0) -> dict[str, list[dict]]:
    rng = np.random.default_rng(seed)
    media = np.where(rng.random(items) < 0.6, "image", "video")
    gens = rng.integers(0, 17, items)
    mos = rng.uniform(1, 5, (items, 2))
    words = rng.integers(3, 60, items)
    cats = rng.integers(0, 12, items)
    out = {}
    for m in range(methods):
        noise = 0.3 + 0.4 * m
        pred = mos + rng.normal(0, noise, mos.shape)
        out[f"method-{m}"] = [
            {
                "item_id": f"it{i}",
                "dimension": dim,
                "media_type": media[i],
                "generator": f"g{gens[i]}",
                "mos": mos[i, d],
                "prediction": pred[i, d],
                "prediction_raw": pred[i, d],
                "prompt_words": int(words[i]),
                "category": f"cat{cats[i] // 3}",
                "subcategory": f"sub{cats[i]}",
            }
            for i in range(items)
            for d, dim in enumerate(("quality", "alignment"))
        ]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--methods", type=int, default=6)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args(argv)
    from training.scorer.benchmark import benchmark_report, write_benchmark

    data = rows(args.items, args.methods)
    t0 = time.perf_counter()
    report = benchmark_report(data, bootstrap=args.bootstrap)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_benchmark(report, tmp)
    t2 = time.perf_counter()
    print(
        f"items {args.items}, methods {args.methods}, bootstrap {args.bootstrap}: report {t1 - t0:.1f} s, "
        f"files (md, html with plots, json) {t2 - t1:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
