"""Session fixtures for the scorer tests: a tiny Qwen2-VL and a small synthetic sft export (CPU, seconds)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    pytest.importorskip("torch")
    from training.scorer.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory):
    from training.scorer.synthetic import make_synthetic_export

    return make_synthetic_export(tmp_path_factory.mktemp("export") / "sft", n_items=12, seed=0, videos=1, long_prompts=2)


@pytest.fixture(scope="session")
def base_overrides(tiny_model_dir, export_dir):
    """Config values every training test shares: tiny model, tiny pixel budgets, LoRA r=4."""
    return dict(
        model_name_or_path=str(tiny_model_dir), data_dir=str(export_dir), batch_size=4, eval_batch_size=8,
        learning_rate=5e-3, lora_r=4, lora_alpha=8, logging_steps=1, video_fps=4.0,
        video_min_pixels=28 * 28, video_max_pixels=56 * 56, video_max_frames=4, eval_plots=False, seed=0,
    )
