"""The GPU throughput benchmark, run end to end on the tiny model on the CPU (``--smoke``): no GPU machine is
lent to most sessions, so this is what keeps the script working until one runs it at full size."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import scorer_gpu_throughput as bench  # noqa: E402

SMALL = ["--train-batch", "2", "--train-steps", "2", "--score-batch", "4", "--score-items", "8", "--image-side", "56"]


def test_smoke_run_measures_every_part_on_the_cpu(capsys):
    assert bench.main(["--smoke", *SMALL]) == 0
    out = capsys.readouterr().out
    results = json.loads(out[out.index("{") :])
    assert results["smoke"] is True and results["device"].startswith("cpu")
    for key in ("score_batched_items_per_s", "score_one_at_a_time_items_per_s", "train_samples_per_s"):
        assert results[key] > 0, key
    assert results["batched_speedup"] == pytest.approx(
        results["score_batched_items_per_s"] / results["score_one_at_a_time_items_per_s"]
    )
    assert results["levels"] == ["Excellent", "Good", "Fair", "Poor", "Bad"]


def test_without_cuda_it_says_so_and_measures_nothing(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here: the full-size run is the real check")
    assert bench.main(SMALL) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_sizes_below_one_are_refused(capsys):
    with pytest.raises(SystemExit) as err:
        bench.main(["--smoke", "--score-items", "0"])
    assert err.value.code == 2 and "--score-items must be at least 1" in capsys.readouterr().err


def test_smoke_run_reports_grouping_memory_and_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "figures" / "scorer.json"
    args = [*SMALL, "--score-items", "12", "--single-items", "3", "--out", str(out)]
    assert bench.main(["--smoke", *args]) == 0
    printed = capsys.readouterr().out
    results = json.loads(out.read_text())
    assert results == json.loads(printed[printed.index("{") :])
    assert results["score_items"] == 12 and results["score_one_at_a_time_items"] == 3
    assert results["score_batched_ungrouped_items_per_s"] > 0
    assert results["score_grouping_speedup"] == pytest.approx(
        results["score_batched_items_per_s"] / results["score_batched_ungrouped_items_per_s"]
    )
    # mixed sizes in random order: grouping leaves less padding, and changes no score beyond float rounding
    assert 0 <= results["score_padding_share"] < results["score_ungrouped_padding_share"]
    assert results["score_grouped_vs_ungrouped_max_abs_diff"] < 1e-4
    assert results["batched_speedup_goal"] == 5.0 and results["batched_speedup_goal_met"] is None  # not a GPU
    for key in ("score_peak_gib", "score_ungrouped_peak_gib", "train_peak_gib"):
        assert results[key] > 0, key
    assert results["dtype"] == "float32" and results["attn"] == "sdpa" and results["loader_workers"] == 0
    # where the batched time goes: the loader alone (its start-up included) and the model alone, each measured
    for key in (
        "score_loader_only_items_per_s",
        "score_model_only_items_per_s",
        "score_collate_ms_per_item_one_process",
        "score_model_only_per_image_attention_items_per_s",
    ):
        assert results[key] > 0, key
    # the platform's batched vision attention against transformers' per-image loop, on the same batches
    assert results["vision_attention"] == "batched (1 layers)"  # the tiny model's one vision layer
    assert results["one_at_a_time_vision_attention"] == "per_image"  # the released script's loop runs transformers' own
    assert results["vision_attention_speedup"] == pytest.approx(
        results["score_model_only_items_per_s"] / results["score_model_only_per_image_attention_items_per_s"]
    )
    assert 0 <= results["score_loader_first_batch_s"] < 60
    assert "profile" not in results  # only on a GPU, when asked


def test_a_model_pass_profile_is_written_beside_the_figures(tmp_path):
    import torch

    out = tmp_path / "scorer.json"
    path = bench.profile_model(lambda: torch.ones(64, 64) @ torch.ones(64, 64), out)
    assert path == tmp_path / "scorer.profile.txt"
    assert "aten::mm" in path.read_text()


def test_flash_attention_asked_for_where_it_cannot_run_falls_back_to_sdpa(capsys):
    from training.scorer.modeling import flash_attention_available

    if flash_attention_available():
        pytest.skip("flash-attn runs here: nothing falls back")
    with pytest.warns(UserWarning, match="flash_attention_2"):
        assert bench.main(["--smoke", *SMALL, "--attn", "flash_attention_2"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["attn"] == "sdpa"
