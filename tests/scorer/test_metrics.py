"""Evaluation metrics equal scipy's; model level groups by generator; logistic PLCC; the evaluate CLI."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from training.scorer.metrics import (
    PREDICTION_COLUMNS,
    build_report,
    correlation_metrics,
    fit_logistic,
    model_level,
    write_predictions,
)

REPO = Path(__file__).resolve().parents[2]


def _rows(n=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        mos = float(rng.uniform(1, 5))
        for dim in ("quality", "alignment"):
            rows.append(
                {
                    "item_id": f"it-{i}",
                    "generator": f"g{i % 5}",
                    "media_type": "image" if i % 3 else "video",
                    "dimension": dim,
                    "mos": mos,
                    "prediction": float(np.clip(mos + rng.normal(0, 0.7), 1, 5)),
                    "p_excellent": 0.2,
                    "p_good": 0.2,
                    "p_fair": 0.2,
                    "p_poor": 0.2,
                    "p_bad": 0.2,
                    "prompt_words": 30 if i % 4 == 0 else 6,
                }
            )
    return rows


def test_metrics_equal_scipy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=50)
    y = 2 * x + rng.normal(size=50)
    m = correlation_metrics(x, y)
    assert m["srcc"] == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert m["plcc"] == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)
    assert m["krcc"] == pytest.approx(stats.kendalltau(x, y)[0], abs=1e-12)
    assert m["rmse"] == pytest.approx(float(np.sqrt(np.mean((x - y) ** 2))), abs=1e-12)
    assert m["n"] == 50


def test_logistic_plcc():
    x = np.linspace(-3, 3, 60)
    y = 1 + 4 / (1 + np.exp(-2 * x)) + np.random.default_rng(0).normal(0, 0.05, 60)
    m = correlation_metrics(x, y)
    fitted = fit_logistic(x, y)
    assert m["plcc_logistic"] == pytest.approx(stats.pearsonr(fitted, y)[0], abs=1e-9)
    assert m["plcc_logistic"] > m["plcc"]  # the fit removes the non-linearity


def test_small_and_constant_inputs_give_null_with_reason():
    m = correlation_metrics([1.0, 2.0], [1.0, 3.0])
    assert m["srcc"] is None and m["plcc"] is None and "n=2" in m["reason"] and m["n"] == 2
    m = correlation_metrics([3.0] * 6, [1, 2, 3, 4, 5, 6])
    assert m["srcc"] is None and "constant" in m["reason"]
    assert correlation_metrics([], [])["reason"] == "no points"


def test_model_level_groups_by_generator():
    rows = [
        {"generator": "a", "prediction": 1.0, "mos": 2.0},
        {"generator": "a", "prediction": 3.0, "mos": 4.0},
        {"generator": "b", "prediction": 5.0, "mos": 5.0},
    ]
    preds, moses, names = model_level(rows)
    assert names == ["a", "b"] and preds == [2.0, 5.0] and moses == [3.0, 5.0]


def test_report_shape_and_values():
    rows = _rows()
    rep = build_report(rows)
    for dim in ("quality", "alignment"):
        for media in ("all", "image", "video"):
            for level in ("instance", "model"):
                assert set(rep[dim][media][level]) >= {"srcc", "plcc", "plcc_logistic", "krcc", "rmse", "n"}
        assert "long_prompt" in rep[dim] and rep[dim]["long_prompt"]["all"]["instance"]["n"] == 10
    q = [r for r in rows if r["dimension"] == "quality"]
    assert rep["quality"]["all"]["instance"]["srcc"] == pytest.approx(
        stats.spearmanr([r["prediction"] for r in q], [r["mos"] for r in q])[0]
    )
    assert rep["quality"]["all"]["model"]["n"] == 5
    assert "plcc_logistic" in rep["_meta"] and "plain" in rep["_meta"]["plcc"]


def test_evaluate_cli_writes_report(tmp_path):
    pred = write_predictions(_rows(), tmp_path / "predictions.csv")
    with pred.open() as fh:
        assert next(csv.reader(fh))[: len(PREDICTION_COLUMNS)] == list(PREDICTION_COLUMNS)
    out = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "training.scorer", "evaluate", "--predictions", str(pred), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rep = json.loads((out / "report.json").read_text())
    assert rep["alignment"]["image"]["instance"]["n"] > 0
    assert rep["quality"]["all"]["model"]["srcc"] is not None
    assert list(out.glob("scatter_*.png"))


def test_every_correlation_is_signed_for_a_negated_predictor():
    """A predictor that runs against the MOS (NIQE-like) keeps its negative sign in every column."""
    rng = np.random.default_rng(3)
    mos = rng.uniform(1, 5, 200)
    pred = mos + rng.normal(0, 0.6, 200)
    pos, neg = correlation_metrics(pred, mos), correlation_metrics(-pred, mos)
    for key in ("srcc", "plcc", "krcc", "plcc_logistic"):
        assert pos[key] > 0.6, key
        assert neg[key] == pytest.approx(-pos[key], abs=1e-6), key
    assert neg["plcc"] == pytest.approx(stats.pearsonr(-pred, mos)[0], abs=1e-12)


def test_logistic_fit_is_increasing_and_five_parameters_work():
    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(-3, 3, 80))
    y = 3 + np.tanh(x) + 0.2 * x + rng.normal(0, 0.05, 80)
    for k in (4, 5):
        fitted = fit_logistic(x, y, params=k)
        assert np.all(np.diff(fitted) >= -1e-9), k
        m = correlation_metrics(x, y, logistic=k)
        assert m["plcc_logistic"] == pytest.approx(stats.pearsonr(fitted, y)[0], abs=1e-6)
        assert m["plcc_logistic"] >= m["plcc"] - 1e-9
    assert "5 < 6" in correlation_metrics(x[:5], y[:5], logistic=5)["reason"]
    with pytest.raises(ValueError):
        fit_logistic(x, y, params=3)


def test_report_names_the_plcc_the_paper_used():
    rep = build_report(_rows(), logistic=5)
    assert "plain Pearson" in rep["_meta"]["paper_plcc"]
    assert "5-parameter" in rep["_meta"]["plcc_logistic"] and rep["_meta"]["logistic_params"] == 5
