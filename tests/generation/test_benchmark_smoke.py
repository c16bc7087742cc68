"""The GPU generation benchmark, end to end on the tiny pipelines on the CPU (``--smoke``), and its refusal to
measure anything without CUDA."""

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import generation_gpu as bench  # noqa: E402

SMALL = ["--steps", "2", "--images", "4", "--videos", "2", "--image-batch", "4", "--video-batch", "2"]


def test_smoke_run_measures_batched_and_one_at_a_time(capsys):
    assert bench.main(["--smoke", *SMALL]) == 0
    out = capsys.readouterr().out
    results = json.loads(out[out.index("{") :])
    assert results["smoke"] is True and results["device"] == "cpu"
    for key in (
        "images_per_s_one_at_a_time",
        "images_per_s_batched",
        "videos_per_min_one_at_a_time",
        "videos_per_min_batched",
    ):
        assert results[key] > 0, key
    assert results["image_batched_speedup"] == pytest.approx(
        results["images_per_s_batched"] / results["images_per_s_one_at_a_time"], rel=0.01
    )


def test_without_cuda_it_says_so_and_measures_nothing(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here: the full-size run is the real check")
    assert bench.main(SMALL) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_sizes_below_one_are_refused(capsys):
    with pytest.raises(SystemExit) as err:
        bench.main(["--smoke", "--videos", "0"])
    assert err.value.code == 2 and "--videos must be at least 1" in capsys.readouterr().err


def test_out_writes_the_printed_figures(tmp_path, capsys):
    out = tmp_path / "figures" / "generation.json"
    assert bench.main(["--smoke", *SMALL, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert json.loads(out.read_text()) == json.loads(printed[printed.index("{") :])
