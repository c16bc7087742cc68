"""The scorer's settings: one dataclass, loaded from YAML plus ``key=value`` overrides.

Why one flat dataclass: the platform stores it with each training run, every checkpoint writes it to
``config.yaml`` beside its weights, and a typo in a key must fail loudly (``UnknownConfigKey``) instead of
silently training with a default. No torch import here.

Usage::

    cfg = load_config("scorer.yaml", ["learning_rate=1e-4", "dimensions=[quality]"])
    cfg = ScorerConfig.from_dict({...})   # same validation
    save_config(cfg, ckpt_dir / "config.yaml")
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .prompts import DIMENSIONS, MEDIA_TYPES, PROMPT_STYLES

SCORE_DTYPES = ("auto", "bf16", "fp32")
VISION_ATTENTION_MODES = ("batched", "per_image")


class ConfigError(ValueError):
    """A setting is missing, unknown or has a bad value."""


class UnknownConfigKey(ConfigError):
    """A key that :class:`ScorerConfig` does not have (a typo, usually)."""


# Presets (``preset: NAME``): the released Q-Eval-Score checkpoints are four per-task models (the released
# inference script loads e.g. ``Q_Eval_Score_Models/output_video_alignment/qwen2-vl-7b-instruct/...-merged``),
# each trained and evaluated on one media type x one dimension; ``joint`` is one model for all four tasks.
# A preset fills the fields it names unless the config sets them; the rest is the paper's setting anyway
# (Qwen2-VL-7B-Instruct, LoRA, fps 8, max_pixels 100352, context prompts, the tag stripped as ms-swift does).
_PAPER = {
    "model_name_or_path": "Qwen/Qwen2-VL-7B-Instruct",
    "finetune": "lora",
    "video_fps": 8.0,
    "video_max_pixels": 100352,
    "prompt_style": "context",
    "media_tag": "strip",
    "ce_weight": 1.0,
    "mse_weight": 1.0,
}
PRESETS: dict[str, dict[str, Any]] = {
    "image-quality": {**_PAPER, "media_types": ["image"], "dimensions": ["quality"]},
    "image-alignment": {**_PAPER, "media_types": ["image"], "dimensions": ["alignment"]},
    "video-quality": {**_PAPER, "media_types": ["video"], "dimensions": ["quality"]},
    "video-alignment": {**_PAPER, "media_types": ["video"], "dimensions": ["alignment"]},
    "joint": {**_PAPER, "media_types": ["image", "video"], "dimensions": ["quality", "alignment"]},
}


@dataclass
class ScorerConfig:
    # --- model -----------------------------------------------------------------------------------
    preset: str | None = None  # one of PRESETS: fills the fields it names unless the config sets them
    model_name_or_path: str = "Qwen/Qwen2-VL-7B-Instruct"  # local dir or hub id (paper's base model)
    finetune: str = "lora"  # "lora" (peft, merged on export) or "full"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    merge_lora_on_export: bool = True
    freeze_vision: bool = True  # full fine-tuning: keep the vision tower frozen
    bf16: bool = False
    gradient_checkpointing: bool = False
    attn_implementation: str = "sdpa"  # sdpa | flash_attention_2 (used where flash-attn is installed) | eager
    score_dtype: str = "auto"  # scoring: "auto" = bf16 on CUDA or when bf16 is set, else fp32 | "bf16" | "fp32"
    # Qwen2-VL's vision attention under SDPA: "batched" = one call per run of equal-length images (vision_attention.py)
    # | "per_image" = transformers' own loop (one call per image per layer)
    vision_attention: str = "batched"

    # --- data --------------------------------------------------------------------------------------
    data_dir: str = ""  # an `sft` export directory (manifest.json + *.jsonl + media/)
    train_split: str = "train"  # "all" reads sft.jsonl (an export without splits)
    eval_split: str | None = "val"  # None/"" = no evaluation during training
    dimensions: list[str] = field(default_factory=lambda: list(DIMENSIONS))
    media_types: list[str] = field(default_factory=lambda: list(MEDIA_TYPES))
    image_min_pixels: int | None = None  # None = the processor's own setting
    image_max_pixels: int | None = None
    video_fps: float = 8.0  # paper: fps 8
    video_min_pixels: int = 128 * 28 * 28
    video_max_pixels: int = 100352  # paper: max_pixels 100352 per frame
    video_sampler: str = "qwen-vl-utils"  # qwen-vl-utils' frame rule (released inference) | "fps" (older sampler)
    video_min_frames: int = 4  # qwen-vl-utils' FPS_MIN_FRAMES
    video_max_frames: int = 768  # qwen-vl-utils' FPS_MAX_FRAMES
    image_resize: str = "qwen-vl-utils"  # pre-resize like qwen-vl-utils' fetch_image | "processor" (its own only)
    num_workers: int | None = None  # DataLoader workers; None = auto: 4 on CUDA (capped by the CPUs), 0 on the CPU

    # --- input text ----------------------------------------------------------------------------------
    prompt_style: str = "context"  # "context" (released prompts) | "plain" (paper Table 4: without context prompt)
    media_tag: str = "strip"  # "strip": ms-swift's tag removed (training) | "keep": literal <image> as infer.py sends

    # --- loss --------------------------------------------------------------------------------------
    ce_weight: float = 1.0  # 0 switches the cross-entropy term off (paper Table 4 ablation)
    mse_weight: float = 1.0  # lambda; 0 switches the MSE term off
    ce_over: str = "vocab"  # "vocab": CE over the full vocabulary at the answer position; "levels": over the 5 words
    mse_scale: str = "mos"  # "mos": expected score and MOS on 1-5; "unit": both mapped to 0-1 first

    # --- optimisation ------------------------------------------------------------------------------
    output_dir: str = "runs/scorer"
    seed: int = 42
    epochs: int = 1
    max_steps: int | None = None  # optimizer steps; overrides epochs when set
    max_train_seconds: float | None = None  # stop (with a checkpoint) after this wall time
    batch_size: int = 4  # per device
    eval_batch_size: int = 8
    eval_group_by_size: bool = True  # scoring batches hold media of similar size (less padding); output order kept
    gradient_accumulation_steps: int = 1
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    lr_scheduler: str = "cosine"  # any transformers.get_scheduler name
    max_grad_norm: float = 1.0
    logging_steps: int = 10
    save_steps: int | None = None  # extra checkpoints every N steps (one is always saved per epoch)
    save_total_limit: int | None = 2  # step checkpoints kept (final export always kept)
    resume_from: str | None = None  # a checkpoint dir, or "latest" (newest under output_dir/checkpoints)

    # --- evaluation / V2S --------------------------------------------------------------------------
    eval_plots: bool = True
    long_prompt_words: int = 25  # the paper's long-prompt threshold
    v2s_enabled: bool = False  # apply Vague-to-Specific to alignment items with long prompts
    v2s_preset: str = "paper"  # "paper": vague + specific prompts only | "extended": also the original prompt
    v2s_rewriter: str = "llm"  # "llm" (v2s_llm / v2s_endpoint; V2S stays off without one) | "fallback" (heuristic)
    v2s_llm: str | None = None  # HF causal LM path/hub id
    v2s_endpoint: str | None = None  # OpenAI-compatible base URL (…/v1); uses v2s_llm as the model name
    v2s_api_key_env: str = "OPENAI_API_KEY"  # name of the environment variable holding the endpoint's key
    v2s_num_specific: int = 3
    v2s_weight_original: float = 0.5  # "extended" preset only
    v2s_weight_vague: float = 0.25
    v2s_weight_specific: float = 0.25  # given to the mean of the specific prompts' scores
    v2s_cache_dir: str | None = None  # None = output_dir/v2s_cache

    # ------------------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ConfigError(msg)

        need(
            self.preset is None or self.preset in PRESETS,
            f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}",
        )
        need(self.finetune in ("lora", "full"), f"finetune must be 'lora' or 'full', got {self.finetune!r}")
        need(self.ce_over in ("vocab", "levels"), f"ce_over must be 'vocab' or 'levels', got {self.ce_over!r}")
        need(self.mse_scale in ("mos", "unit"), f"mse_scale must be 'mos' or 'unit', got {self.mse_scale!r}")
        need(
            self.attn_implementation in ("sdpa", "flash_attention_2", "eager"),
            f"attn_implementation must be sdpa, flash_attention_2 or eager, got {self.attn_implementation!r}",
        )
        need(
            self.score_dtype in SCORE_DTYPES,
            f"score_dtype must be one of {', '.join(SCORE_DTYPES)}, got {self.score_dtype!r}",
        )
        need(
            self.vision_attention in VISION_ATTENTION_MODES,
            f"vision_attention must be one of {', '.join(VISION_ATTENTION_MODES)}, got {self.vision_attention!r}",
        )
        need(self.num_workers is None or self.num_workers >= 0, "num_workers must be >= 0 (or null for auto)")
        need(self.ce_weight >= 0 and self.mse_weight >= 0, "ce_weight and mse_weight must be >= 0")
        need(self.ce_weight > 0 or self.mse_weight > 0, "at least one of ce_weight, mse_weight must be > 0")
        bad = [d for d in self.dimensions if d not in DIMENSIONS]
        need(
            not bad and bool(self.dimensions),
            f"dimensions must be a non-empty subset of {DIMENSIONS}, got {self.dimensions}",
        )
        bad = [m for m in self.media_types if m not in MEDIA_TYPES]
        need(not bad and bool(self.media_types), f"media_types must be a non-empty subset of {MEDIA_TYPES}")
        need(self.batch_size >= 1 and self.eval_batch_size >= 1, "batch sizes must be >= 1")
        need(self.gradient_accumulation_steps >= 1, "gradient_accumulation_steps must be >= 1")
        need(self.video_fps > 0, "video_fps must be > 0")
        need(
            self.video_sampler in ("qwen-vl-utils", "fps"),
            f"video_sampler must be 'qwen-vl-utils' or 'fps', got {self.video_sampler!r}",
        )
        need(
            self.image_resize in ("qwen-vl-utils", "processor"),
            f"image_resize must be 'qwen-vl-utils' or 'processor', got {self.image_resize!r}",
        )
        need(2 <= self.video_min_frames <= self.video_max_frames, "need 2 <= video_min_frames <= video_max_frames")
        need(
            self.prompt_style in PROMPT_STYLES,
            f"prompt_style must be one of {PROMPT_STYLES}, got {self.prompt_style!r}",
        )
        need(self.media_tag in ("strip", "keep"), f"media_tag must be 'strip' or 'keep', got {self.media_tag!r}")
        need(
            self.v2s_preset in ("paper", "extended"),
            f"v2s_preset must be 'paper' or 'extended', got {self.v2s_preset!r}",
        )
        need(
            self.v2s_rewriter in ("llm", "fallback"),
            f"v2s_rewriter must be 'llm' or 'fallback', got {self.v2s_rewriter!r}",
        )
        need(
            min(self.v2s_weight_original, self.v2s_weight_vague, self.v2s_weight_specific) >= 0,
            "V2S weights must be >= 0",
        )

    # ------------------------------------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ScorerConfig:
        data = dict(data or {})
        known = set(cls.field_names())
        unknown = sorted(set(data) - known)
        if unknown:
            raise UnknownConfigKey(
                f"unknown scorer config key(s): {', '.join(unknown)}. Known keys: {', '.join(sorted(known))}"
            )
        preset = data.get("preset")
        if preset is not None and preset not in PRESETS:
            raise ConfigError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        if preset:
            data = {**PRESETS[preset], **data}
        hints = typing.get_type_hints(cls)
        return cls(**{k: _coerce(k, v, hints[k]) for k, v in data.items()})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> ScorerConfig:
        """A copy with ``changes``; a ``preset`` among them overrides the fields it names, then the other
        changes apply (so ``replace(preset="image-quality")`` narrows an existing config to that task)."""
        base = self.to_dict()
        preset = changes.get("preset")
        if preset:
            if preset not in PRESETS:
                raise ConfigError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
            base.update(PRESETS[preset])
        return ScorerConfig.from_dict({**base, **changes})


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Light type check/coercion so that YAML and ``key=value`` strings land with the right type."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    optional = type(None) in args
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{key} may not be null")
    base = next((a for a in args if a is not type(None)), hint) if optional else hint
    b_origin = typing.get_origin(base)
    try:
        if base is bool or (origin is None and hint is bool):
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
                return value.lower() in ("true", "yes", "1")
            raise ValueError(value)
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if base is str:
            if isinstance(value, (dict, list)):
                raise ValueError(value)
            return str(value)
        if b_origin is list:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)):
                raise ValueError(value)
            return [str(v) for v in value]
    except (TypeError, ValueError):
        raise ConfigError(f"bad value for {key}: {value!r} (expected {hint})") from None
    return value


def parse_overrides(overrides: list[str] | None) -> dict[str, Any]:
    """``["lr=1e-4", "dimensions=[quality]"]`` -> dict; values parsed as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        try:
            out[key] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key] = raw
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> ScorerConfig:
    """Read a YAML file (optional) and apply overrides (``key=value`` strings or a dict)."""
    data: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: a folder, not a config file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a YAML text file (not UTF-8)") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the YAML top level must be a mapping")
        data.update(loaded)
    if isinstance(overrides, dict):
        data.update(overrides)
    else:
        data.update(parse_overrides(overrides))
    return ScorerConfig.from_dict(data)


def save_config(config: ScorerConfig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path
