"""The benchmark report: paper-layout tables with bootstrap intervals and paired tests, Table 5 with and
without V2S, per-category SRCC; Markdown, HTML with plots and JSON (pure numpy/scipy, no model)."""

import json

import numpy as np
import pytest
from scipy import stats

from training.scorer.benchmark import MethodSpec, benchmark_report, cell, to_markdown, write_benchmark

GENS = [f"g{i}" for i in range(8)]


def _rows(seed=0, n=240):
    rng = np.random.default_rng(seed)
    methods = {"good": [], "noisy": [], "inverse": []}
    for i in range(n):
        media = "image" if i % 3 else "video"
        gen = GENS[i % 4] if media == "image" else GENS[4 + i % 4]
        mos = float(rng.uniform(1, 5))
        words = 30 if i % 5 == 0 else 8
        cat = ("Entity Generation", "object") if i % 2 else ("Interaction Ability", "spatial relationships")
        for dim in ("quality", "alignment"):
            base = {
                "item_id": f"it{i}",
                "generator": gen,
                "media_type": media,
                "dimension": dim,
                "mos": mos,
                "prompt_words": words,
                "category": cat[0],
                "subcategory": cat[1],
            }
            good = mos + rng.normal(0, 0.4)
            raw = good + rng.normal(0, 0.5) if words > 25 and dim == "alignment" else good
            methods["good"].append(
                {**base, "prediction": good, "prediction_raw": raw, "v2s_method": "llm:qwen" if raw != good else "off"}
            )
            methods["noisy"].append({**base, "prediction": mos + rng.normal(0, 2.0)})
            methods["inverse"].append({**base, "prediction": -mos + rng.normal(0, 0.4)})
    return methods


def test_cell_points_intervals_and_paired_test():
    rng = np.random.default_rng(1)
    mos = rng.uniform(1, 5, 300)
    preds = {"a": mos + rng.normal(0, 0.3, 300), "b": mos + rng.normal(0, 1.5, 300)}
    c = cell(preds, mos, bootstrap=400, seed=0).to_dict()
    assert c["n"] == 300 and c["best"] == {"srcc": "a", "plcc": "a"}
    a, b = c["methods"]["a"], c["methods"]["b"]
    assert a["srcc"] == pytest.approx(stats.spearmanr(preds["a"], mos)[0], abs=1e-12)
    assert b["plcc"] == pytest.approx(stats.pearsonr(preds["b"], mos)[0], abs=1e-12)
    for v in (a, b):
        assert v["srcc_ci"][0] < v["srcc"] < v["srcc_ci"][1]
    assert a["srcc_p_vs_best"] is None and b["srcc_p_vs_best"] < 0.01
    # the same seed gives the same intervals (reproducible report)
    assert cell(preds, mos, bootstrap=400, seed=0).to_dict() == c


def test_model_level_cell_uses_generator_means():
    mos = np.array([1.0, 2.0, 2.0, 4.0, 5.0, 3.0])
    pred = np.array([1.5, 2.5, 1.0, 4.5, 4.0, 3.5])
    gens = np.array(["a", "a", "b", "b", "c", "c"], dtype=object)
    c = cell({"m": pred}, mos, groups=gens, bootstrap=50).to_dict()
    assert c["n"] == 3
    assert c["methods"]["m"]["plcc"] == pytest.approx(stats.pearsonr([2.0, 2.75, 3.75], [1.5, 3.0, 4.0])[0])


def test_report_tables_long_prompt_and_categories(tmp_path):
    rep = benchmark_report(_rows(), bootstrap=200, split="test", source="demo v1")
    q = rep["tables"]["quality"]
    assert q["title"].startswith("Table 2") and rep["tables"]["alignment"]["title"].startswith("Table 3")
    img = q["cells"]["image"]
    assert img["instance"]["best"]["srcc"] == "good" and img["model"]["n"] == 4
    assert img["instance"]["methods"]["inverse"]["srcc"] < -0.8  # signed, as the paper's NIQE row
    assert img["instance"]["methods"]["noisy"]["srcc_p_vs_best"] < 0.05
    lp = rep["long_prompt"]["image"]["methods"]
    assert set(lp) == {"good (without V2S)", "good (with V2S)", "noisy", "inverse"}
    assert lp["good (with V2S)"]["srcc"] > lp["good (without V2S)"]["srcc"]
    cats = {(c["category"], c["subcategory"]): c for c in rep["categories"]["alignment"]}
    assert cats[("Entity Generation", None)]["n"] == 120 and cats[("Entity Generation", "object")]["n"] == 120
    assert "plain Pearson" in rep["_meta"]["plcc"] and rep["_meta"]["v2s_note"] is None
    paths = write_benchmark(rep, tmp_path)
    md = paths["md"].read_text()
    assert "## Table 2: visual quality" in md and "## Table 5" in md and "†" in md and "**" in md
    assert "Per category (alignment" in md and "spatial relationships" in md
    html = paths["html"].read_text()
    assert html.count("<svg") == 2 and "<table>" in html and "Table 3: alignment" in html
    assert json.loads(paths["json"].read_text())["_meta"]["bootstrap"] == 200


def test_fallback_v2s_is_marked_not_comparable():
    rows = _rows()
    for r in rows["good"]:
        if r["v2s_method"] != "off":
            r["v2s_method"] = "fallback"
    rep = benchmark_report(rows, bootstrap=50)
    assert "not comparable to Table 5" in rep["_meta"]["v2s_note"]
    assert "> not comparable to Table 5" in to_markdown(rep)


def test_method_spec_parsing():
    assert MethodSpec.parse("ours=qeval:/ckpt/final") == MethodSpec("ours", "qeval", "/ckpt/final")
    assert MethodSpec.parse("clip-ft=clipscore:/m/clip:/h/head.json").head == "/h/head.json"
    with pytest.raises(ValueError, match="NAME=KIND:PATH"):
        MethodSpec.parse("justaname")
