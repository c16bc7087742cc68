"""Session fixtures for the scorer tests: a tiny Qwen2-VL and a small synthetic sft export (CPU, seconds)."""

from __future__ import annotations

import pytest


def _write_noise_pngs(root, sizes, *, seed: int = 0) -> list:
    """A PNG of random pixels for each (width, height) in `sizes`, written to root/img{i}.png; their paths."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = []
    for i, (w, h) in enumerate(sizes):
        path = root / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def noise_pngs():
    """`noise_pngs(root, sizes)`: test images of random pixels (this folder has no package to import it from)."""
    return _write_noise_pngs


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    pytest.importorskip("torch")
    from training.scorer.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory):
    from training.scorer.synthetic import make_synthetic_export

    return make_synthetic_export(
        tmp_path_factory.mktemp("export") / "sft", n_items=12, seed=0, videos=1, long_prompts=2
    )


@pytest.fixture(scope="session")
def base_overrides(tiny_model_dir, export_dir):
    """Config values every training test shares: tiny model, tiny pixel budgets, LoRA r=4."""
    return dict(
        model_name_or_path=str(tiny_model_dir),
        data_dir=str(export_dir),
        batch_size=4,
        eval_batch_size=8,
        learning_rate=5e-3,
        lora_r=4,
        lora_alpha=8,
        logging_steps=1,
        video_fps=4.0,
        video_min_pixels=28 * 28,
        video_max_pixels=56 * 56,
        video_max_frames=4,
        eval_plots=False,
        seed=0,
    )


@pytest.fixture
def launch_training(tmp_path, base_overrides):
    """Train in a subprocess as a user launches it (``python -m training.scorer train`` or ``torchrun`` with N
    processes; ``env`` adds launcher settings such as Accelerate's DeepSpeed switches). Returns the logged step
    events and the output directory. Two epochs, quality only, no dropout: runs that should agree can."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[2]

    def launch(name: str, *, processes: int = 1, env: dict | None = None, **overrides):
        out = tmp_path / name
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    **base_overrides,
                    "output_dir": str(out),
                    "epochs": 2,
                    "lora_dropout": 0.0,
                    "dimensions": ["quality"],
                    **overrides,
                }
            )
        )
        # torchrun also for one process with launcher settings: DeepSpeed wants the distributed environment
        launcher = (
            [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
            if processes > 1 or env
            else [sys.executable]
        )
        proc = subprocess.run(
            [*launcher, "-m", "training.scorer", "train", "--config", str(cfg)],
            cwd=repo,
            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"event"')]
        return [e for e in events if e["event"] == "step"], out

    return launch


@pytest.fixture
def last_eval_predictions():
    """Reads a run's last evaluation predictions (the last epoch's), in item order."""
    import pandas as pd

    def read(run_dir):
        last = sorted((run_dir / "eval").iterdir())[-1]
        return pd.read_csv(last / "predictions.csv").sort_values("item_id").reset_index(drop=True)

    return read
