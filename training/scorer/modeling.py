"""Loading the base model (Auto classes), wrapping it for training (LoRA or full), and saving/loading.

* Any Hugging Face image-text-to-text model loads through ``AutoModelForImageTextToText`` from a local
  directory or hub id (default: ``Qwen/Qwen2-VL-7B-Instruct``, the paper's base), in bf16 when asked (for
  scoring: ``score_dtype``, bf16 on CUDA by default), with ``attn_implementation`` sdpa (default) /
  flash_attention_2 (where flash-attn is installed; SDPA otherwise) / eager; under SDPA, Qwen2-VL's vision
  attention runs one call per run of equal-sized images (``vision_attention``, :mod:`.vision_attention`).
* LoRA (peft) on the language model's projections, or full fine-tuning with the vision tower frozen.
* A *checkpoint directory* is always loadable by :func:`load_scorer`: either a full model (an export,
  LoRA merged) or a LoRA adapter (``adapter_config.json``; the base comes from the ``config.yaml`` saved
  beside it). Both carry the processor files, ``config.yaml`` and ``scorer.json`` (level token ids).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import ScorerConfig, load_config, save_config
from .processing import ScorerProcessor, load_processor
from .scoring import level_token_ids
from .vision_attention import set_vision_attention


def model_dtype(cfg: ScorerConfig) -> torch.dtype:
    return torch.bfloat16 if cfg.bf16 else torch.float32


def scoring_dtype(cfg: ScorerConfig, device: str | torch.device) -> torch.dtype:
    """The dtype a scorer is loaded in: ``score_dtype`` "auto" is bf16 on CUDA (half the memory traffic of fp32 at
    the same level-word ranking; the paper's own inference runs in half precision) or when the model was trained
    in bf16, else fp32 (the CPU, where bf16 matmuls are slow)."""
    if cfg.score_dtype == "bf16":
        return torch.bfloat16
    if cfg.score_dtype == "fp32":
        return torch.float32
    return torch.bfloat16 if cfg.bf16 or torch.device(device).type == "cuda" else torch.float32


def flash_attention_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("flash_attn") is not None and torch.cuda.is_available()


def attention_implementation(requested: str, device: str | torch.device | None = None) -> str:
    """``flash_attention_2`` where it can run (flash-attn installed, a CUDA device), else SDPA with a warning:
    the same numbers up to kernel rounding, so a config written for a GPU box still runs elsewhere."""
    on_cuda = torch.cuda.is_available() if device is None else torch.device(device).type == "cuda"
    if requested == "flash_attention_2" and not (on_cuda and flash_attention_available()):
        import warnings

        warnings.warn(
            "attn_implementation flash_attention_2 asked for, but flash-attn is not installed or there is no CUDA "
            "device: using sdpa",
            stacklevel=2,
        )
        return "sdpa"
    return requested


def load_base_model(
    path: str, cfg: ScorerConfig, *, dtype: torch.dtype | None = None, device: str | torch.device | None = None
):
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(
        str(path),
        dtype=dtype or model_dtype(cfg),
        attn_implementation=attention_implementation(cfg.attn_implementation, device),
    )
    set_vision_attention(model, cfg.vision_attention)  # Qwen2-VL under SDPA: one call per run of equal images
    return model


def prepare_for_training(model, cfg: ScorerConfig):
    """LoRA (peft) or full fine-tuning; gradient checkpointing if asked. Returns the model to train."""
    if cfg.gradient_checkpointing:
        # transformers 5.x renamed it (the old name warns and goes in v6); older releases have only the old one
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    if cfg.finetune == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=list(cfg.lora_target_modules),
            bias="none",
        )
        model = get_peft_model(model, lora)
    else:
        for name, param in model.named_parameters():
            vision = any(k in name for k in ("visual", "vision_tower", "vision_model"))
            param.requires_grad = not (cfg.freeze_vision and vision)
    return model


def answer_logits(model, model_inputs: dict[str, Any]) -> torch.Tensor:
    """(B, V) logits at the last position (inputs are left-padded, so that is the answer position)."""
    try:
        out = model(**model_inputs, logits_to_keep=1, use_cache=False)
    except TypeError:
        out = model(**model_inputs, use_cache=False)
    return out.logits[:, -1, :]


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").exists()


def save_checkpoint_files(
    out_dir: str | Path,
    *,
    model,
    processor: ScorerProcessor,
    cfg: ScorerConfig,
    level_ids: list[int],
    merge: bool = False,
    extra: dict | None = None,
    state_dict: dict | None = None,
) -> Path:
    """Weights (adapter, or full model; LoRA merged *in place* when ``merge``), processor, config.yaml,
    scorer.json. ``state_dict``: a gathered state dict (DeepSpeed), used instead of the model's own."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    is_peft = hasattr(model, "peft_config")
    if is_peft and merge:
        # merged in place (this is the end of training): no second copy of a 7B model in memory
        model.merge_and_unload().save_pretrained(out)
    elif state_dict is not None:
        model.save_pretrained(out, state_dict=state_dict)
    else:
        model.save_pretrained(out)
    processor.save_pretrained(out)
    save_config(cfg, out / "config.yaml")
    meta = {
        "levels": dict(zip(("Excellent", "Good", "Fair", "Poor", "Bad"), level_ids)),
        "level_ids": level_ids,
        "base_model": cfg.model_name_or_path,
        "adapter": bool(is_peft and not merge),
    }
    meta.update(extra or {})
    (out / "scorer.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


@dataclass
class LoadedScorer:
    model: Any
    processor: ScorerProcessor
    config: ScorerConfig
    level_ids: list[int]
    path: Path


def load_scorer(
    checkpoint: str | Path,
    *,
    device: str | torch.device | None = None,
    overrides: dict | None = None,
    merge_adapter: bool = True,
) -> LoadedScorer:
    """Load a checkpoint/export (or a bare base model dir) for scoring, in eval mode."""
    path = Path(checkpoint)
    cfg_path = path / "config.yaml"
    cfg = load_config(cfg_path if cfg_path.exists() else None, overrides or {})
    if not cfg_path.exists():
        cfg = cfg.replace(model_name_or_path=str(path))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = scoring_dtype(cfg, device)
    if is_adapter_dir(path):
        from peft import PeftModel

        base = load_base_model(cfg.model_name_or_path, cfg, dtype=dtype, device=device)
        model = PeftModel.from_pretrained(base, str(path))
        if merge_adapter:
            model = model.merge_and_unload()
    else:
        model = load_base_model(str(path), cfg, dtype=dtype, device=device)
    proc_dir = (
        path
        if any((path / f).exists() for f in ("tokenizer.json", "tokenizer_config.json"))
        else Path(cfg.model_name_or_path)
    )
    processor = load_processor(proc_dir, model_type=getattr(model.config, "model_type", None), config=cfg)
    level_ids = level_token_ids(processor.tokenizer)
    model.to(device).eval()
    return LoadedScorer(model=model, processor=processor, config=cfg, level_ids=level_ids, path=path)
