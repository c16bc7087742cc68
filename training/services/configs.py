"""Scorer configs as the platform takes them: validated by the scorer's own loader, platform keys refused.

`training.scorer.config` imports only PyYAML, so validation works in the web process without torch.
"""

from __future__ import annotations

from typing import Any

import yaml
from django.conf import settings

from core.errors import InvalidInput

# Set by the platform for every run: where the export is, where outputs go, resuming, and which environment
# variable holds the LLM endpoint's key (the deployment's QEVAL_LLM_API_KEY: a config that named another could send
# any of the worker's secrets, SECRET_KEY or a storage key, to an endpoint of its choosing).
PLATFORM_KEYS = ("data_dir", "output_dir", "resume_from", "v2s_api_key_env")
LLM_API_KEY_ENV = "QEVAL_LLM_API_KEY"


def platform_keys(*, data_dir: str | None = None, output_dir: str | None = None) -> dict:
    """What the platform sets in every run's config (the worker's side of PLATFORM_KEYS)."""
    keys: dict[str, str] = {"v2s_api_key_env": LLM_API_KEY_ENV}
    if data_dir is not None and output_dir is not None:
        keys.update(data_dir=data_dir, output_dir=output_dir, resume_from="latest")
    return keys


def llm_endpoint_check(endpoint: str) -> str:
    """The endpoint (without a trailing slash) when the deployment lists it in QEVAL_LLM_ENDPOINTS, else
    InvalidInput naming the ones it does. The workers call only these and send the key only to these: a URL a
    researcher types could be a service inside the deployment, or a server of theirs that collects the key."""
    url = (endpoint or "").strip().rstrip("/")
    allowed = list(settings.QEVAL_LLM_ENDPOINTS)
    if url in allowed:
        return url
    if not allowed:
        raise InvalidInput(
            "no LLM endpoint is configured here: an operator lists them in QEVAL_LLM_ENDPOINTS "
            "(or give a model the worker holds)"
        )
    raise InvalidInput(f"endpoint {url} is not one this deployment calls: choose {', '.join(allowed)}")


def default_base_model() -> str:
    """Base model for training runs whose config names none (a local path or hub id)."""
    return settings.TRAINING_BASE_MODEL


def config_validate(*, config: Any) -> dict:
    """The config as given (a dict), after the scorer's loader accepted it. InvalidInput with the
    loader's reason for an unknown key or a bad value."""
    from training.scorer.config import ConfigError, ScorerConfig

    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise InvalidInput("config must be a mapping of scorer settings (JSON object or YAML mapping)")
    taken = [k for k in PLATFORM_KEYS if k in config]
    if taken:
        raise InvalidInput(f"config key(s) {', '.join(taken)} are set by the platform for each run; remove them")
    if config.get("v2s_endpoint"):
        config = {**config, "v2s_endpoint": llm_endpoint_check(str(config["v2s_endpoint"]))}
    try:
        ScorerConfig.from_dict(config)
    except ConfigError as exc:
        raise InvalidInput(f"invalid scorer config: {exc}") from None
    except TypeError as exc:  # a wrongly typed value the dataclass rejects
        raise InvalidInput(f"invalid scorer config: {exc}") from None
    return dict(config)


def config_from_yaml(*, text: str) -> dict:
    """Parse a YAML (or JSON) config text; InvalidInput when it is not a mapping."""
    try:
        data = yaml.safe_load(text or "") or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"config is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("config YAML must be a mapping of scorer settings")
    return data


def default_config_yaml() -> str:
    """A sensible starting config for the launch form: LoRA on the default base model, one epoch."""
    from .scorers import demo_scorer_path

    tiny = demo_scorer_path()
    if tiny is not None:
        # The demo's tiny model: trains on a CPU in seconds (full fine-tuning; it has no LoRA targets worth it).
        return (
            f"model_name_or_path: {tiny}\n"
            "finetune: full\n"
            "epochs: 1\n"
            "batch_size: 4\n"
            "learning_rate: 0.0002\n"
            "logging_steps: 1\n"
            "eval_plots: false\n"
        )
    return (
        f"model_name_or_path: {default_base_model()}\n"
        "finetune: lora\n"
        "lora_r: 16\n"
        "epochs: 2\n"
        "batch_size: 4\n"
        "gradient_accumulation_steps: 4\n"
        "learning_rate: 0.0002\n"
        "bf16: true\n"
        "logging_steps: 10\n"
    )
