"""Config: YAML + key=value overrides, unknown keys are an error, saved beside checkpoints."""

import re

import pytest

from training.scorer.config import ConfigError, ScorerConfig, UnknownConfigKey, load_config, save_config


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("learning_rate: 0.001\ndimensions: [quality]\nbf16: true\nmax_steps: 10\n")
    cfg = load_config(path, ["learning_rate=5e-5", "epochs=3", "eval_split=", "lora_target_modules=q_proj,v_proj"])
    assert cfg.learning_rate == 5e-5 and isinstance(cfg.learning_rate, float)
    assert cfg.epochs == 3 and cfg.dimensions == ["quality"] and cfg.bf16 is True and cfg.max_steps == 10
    assert cfg.eval_split == "" and cfg.lora_target_modules == ["q_proj", "v_proj"]


def test_unknown_key_is_an_error(tmp_path):
    with pytest.raises(UnknownConfigKey, match="learnig_rate"):
        load_config(None, ["learnig_rate=1e-4"])
    path = tmp_path / "cfg.yaml"
    path.write_text("batchsize: 4\n")
    with pytest.raises(UnknownConfigKey, match="batchsize"):
        load_config(path)


@pytest.mark.parametrize(
    "override",
    [
        "finetune=qlora",
        "dimensions=[beauty]",
        "epochs=abc",
        "ce_weight=0 ",
        "bf16=maybe",
        "attn_implementation=xformers",
    ],
)
def test_bad_values(override):
    ov = [override] + (["mse_weight=0"] if override.startswith("ce_weight") else [])
    with pytest.raises(ConfigError):
        load_config(None, ov)


def test_roundtrip(tmp_path):
    cfg = ScorerConfig(learning_rate=1e-3, dimensions=["alignment"], max_steps=7)
    path = save_config(cfg, tmp_path / "ckpt" / "config.yaml")
    assert load_config(path) == cfg
    assert cfg.replace(epochs=2).epochs == 2


def test_presets_for_the_released_per_task_models_and_the_joint_model():
    from training.scorer.config import PRESETS

    assert set(PRESETS) == {"image-quality", "image-alignment", "video-quality", "video-alignment", "joint"}
    cfg = ScorerConfig.from_dict({"preset": "video-alignment"})
    assert (cfg.media_types, cfg.dimensions, cfg.video_fps, cfg.video_max_pixels, cfg.finetune) == (
        ["video"],
        ["alignment"],
        8.0,
        100352,
        "lora",
    )
    # explicit keys win over the preset; replace(preset=...) narrows an existing config
    assert ScorerConfig.from_dict({"preset": "image-quality", "finetune": "full"}).finetune == "full"
    joint = ScorerConfig.from_dict({"preset": "joint", "batch_size": 2})
    narrowed = joint.replace(preset="image-alignment")
    assert (narrowed.media_types, narrowed.dimensions, narrowed.batch_size) == (["image"], ["alignment"], 2)
    assert ScorerConfig.from_dict(narrowed.to_dict()) == narrowed  # what config.yaml stores reloads the same
    with pytest.raises(ConfigError, match="preset must be one of"):
        ScorerConfig.from_dict({"preset": "image"})


@pytest.mark.parametrize(
    "content,message",
    [
        (bytes(range(256)), "not a YAML text file (not UTF-8)"),
        (b"lr: [1, 2", "not valid YAML (while parsing a flow sequence)"),
        (None, "no such config file"),
    ],
)
def test_a_config_file_that_cannot_be_read_is_a_config_error(tmp_path, content, message):
    path = tmp_path / "scorer.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=re.escape(f"scorer.yaml: {message}")):
        load_config(path)
    with pytest.raises(ConfigError, match="a folder, not a config file"):
        load_config(tmp_path)
