"""The one script a session lent a GPU runs (benchmarks/gpu_session.sh), in its CPU smoke mode: both benchmarks
run, their figures land under $OUT and the README rows are written from them. What it checks is the script's
plumbing; the figures of a smoke run say nothing about a GPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_smoke_session(out: Path, **env: str) -> subprocess.CompletedProcess:
    """gpu_session.sh in its CPU smoke mode, its files under `out`; `env` adds variables (GPU_SESSION_STEPS)."""
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    env = {
        **os.environ,
        "OUT": str(out),
        "PYTHON": sys.executable,
        "GPU_SESSION_SMOKE": "1",
        "OMP_NUM_THREADS": "1",
        **env,
    }
    proc = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu_session.sh")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_smoke_session_writes_figures_and_summary_under_out(tmp_path):
    out = tmp_path / "out"
    proc = run_smoke_session(out)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "env.txt",
        "generation_gpu.json",
        "generation_gpu.log",
        "scorer_gpu_throughput.json",
        "scorer_gpu_throughput.log",
        "summary.md",
    ]
    env_txt = (out / "env.txt").read_text()
    assert "scorer_gpu_throughput: exit 0" in env_txt and "generation_gpu: exit 0" in env_txt
    assert "torch: " in env_txt and "commit: " in env_txt
    scorer = json.loads((out / "scorer_gpu_throughput.json").read_text())
    assert scorer["smoke"] is True and scorer["score_items"] == 8
    summary = (out / "summary.md").read_text()
    assert f"**{scorer['score_batched_items_per_s']:.1f} items/s**" in summary
    assert "smoke run, not a GPU" in summary and "no figures" not in summary
    assert summary == proc.stdout[proc.stdout.index("| benchmark") :].split("outputs in")[0]


def test_steps_can_be_narrowed_to_one_benchmark(tmp_path):
    """A rerun after a change to one benchmark spends device time on that one only (GPU_SESSION_STEPS)."""
    out = tmp_path / "out"
    run_smoke_session(out, GPU_SESSION_STEPS="generation")
    assert not (out / "scorer_gpu_throughput.json").exists()
    assert json.loads((out / "generation_gpu.json").read_text())["smoke"] is True
    summary = (out / "summary.md").read_text()
    assert "`scorer_gpu_throughput.py` | no figures" in summary and "`generation_gpu.py` | cpu" in summary
