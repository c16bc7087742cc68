"""A generator's run specification: everything needed to reproduce its outputs, checked without torch.

Parameters are named as researchers write them on the command line (``--param steps=30``) and stored as
they are resolved (defaults filled in), so a job's provenance records the exact values each output used.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

IMAGE, VIDEO = "image", "video"
TINY_PREFIX = "tiny:"  # model = "tiny:image" / "tiny:video": a tiny random pipeline built on the worker
DTYPES = ("float16", "bfloat16", "float32")
# Pipelines whose output is a video (anything else is taken as text-to-image unless media_type says so).
VIDEO_PIPELINES = frozenset(
    {
        "TextToVideoSDPipeline",
        "TextToVideoZeroPipeline",
        "AnimateDiffPipeline",
        "CogVideoXPipeline",
        "LTXPipeline",
        "LTX2Pipeline",
        "WanPipeline",
        "HunyuanVideoPipeline",
        "HunyuanVideo15Pipeline",
        "MochiPipeline",
        "LattePipeline",
        "AllegroPipeline",
        "EasyAnimatePipeline",
        "SkyReelsV2Pipeline",
        "SanaVideoPipeline",
        "CosmosTextToWorldPipeline",
        "ConsisIDPipeline",
    }
)
_CLASS_RE = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
_CALL_KW_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


class SpecError(ValueError):
    """A parameter that cannot be used; the message names it and says what is allowed."""


@dataclass(frozen=True)
class RunSpec:
    model: str  # local path or hub id, or tiny:image / tiny:video
    media_type: str = IMAGE
    pipeline_class: str = "DiffusionPipeline"  # DiffusionPipeline: the class named in the model's model_index.json
    scheduler: str = ""  # a diffusers scheduler class swapped in from the pipeline's scheduler config; "" keeps it
    revision: str = ""
    variant: str = ""
    dtype: str = "float16"  # on CUDA; the CPU always runs float32
    steps: int = 30
    guidance_scale: float = 7.5
    width: int = 512
    height: int = 512
    num_frames: int | None = None  # video only
    fps: int | None = None  # video only: frames per second of the written MP4
    negative_prompt: str = ""
    batch_size: int = 4  # outputs per pipeline call on one worker
    call_kwargs: dict[str, Any] = field(default_factory=dict)  # any other __call__ argument, as given

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def is_tiny(self) -> bool:
        return self.model.startswith(TINY_PREFIX)

    def pipeline_kwargs(self) -> dict[str, Any]:
        """Arguments of the pipeline's __call__ (besides prompt and generator)."""
        kwargs: dict[str, Any] = {
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "width": self.width,
            "height": self.height,
        }
        if self.media_type == VIDEO:
            kwargs["num_frames"] = self.num_frames
        if self.negative_prompt:
            kwargs["negative_prompt"] = self.negative_prompt
        kwargs.update(self.call_kwargs)
        return kwargs


DEFAULTS = {
    IMAGE: dict(steps=30, guidance_scale=7.5, width=512, height=512, batch_size=4),
    VIDEO: dict(steps=25, guidance_scale=9.0, width=256, height=256, num_frames=16, fps=8, batch_size=1),
}
TINY = {
    IMAGE: dict(
        pipeline_class="StableDiffusionPipeline",
        steps=2,
        guidance_scale=7.5,
        width=32,
        height=32,
        batch_size=4,
        dtype="float32",
    ),
    VIDEO: dict(
        pipeline_class="TextToVideoSDPipeline",
        steps=2,
        guidance_scale=7.5,
        width=32,
        height=32,
        num_frames=4,
        fps=4,
        batch_size=2,
        dtype="float32",
    ),
}
_INT = ("steps", "width", "height", "num_frames", "fps", "batch_size")
_FLOAT = ("guidance_scale",)
_STR = ("pipeline_class", "scheduler", "revision", "variant", "dtype", "negative_prompt", "media_type")
PARAM_NAMES = ("model",) + _STR + _INT + _FLOAT
LIMITS = {
    "steps": (1, 1000),
    "width": (8, 8192),
    "height": (8, 8192),
    "num_frames": (1, 1024),
    "fps": (1, 240),
    "batch_size": (1, 256),
}


def _typed(key: str, value: Any) -> Any:
    if key in _INT:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise SpecError(f"{key} must be a whole number, got {value!r}") from None
        low, high = LIMITS[key]
        if not low <= number <= high:
            raise SpecError(f"{key} must be between {low} and {high}, got {number}")
        if key in ("width", "height") and number % 8:
            raise SpecError(f"{key} must be a multiple of 8 (latent diffusion works on 8x8 blocks), got {number}")
        return number
    if key in _FLOAT:
        try:
            real = float(str(value).strip())
        except ValueError:
            raise SpecError(f"{key} must be a number, got {value!r}") from None
        if not 0 <= real <= 100:
            raise SpecError(f"{key} must be between 0 and 100, got {real}")
        return real
    return str(value).strip()


def _call_value(text: Any) -> Any:
    """`call.eta=0.5` -> 0.5; JSON where it parses (numbers, true/false, lists), else the text."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`["steps=30", "call.eta=0"]` -> {"steps": "30", "call.eta": "0"} (checked by :func:`build_spec`)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SpecError(f"--param takes KEY=VALUE, got {pair!r}")
        if key in params:
            raise SpecError(f"--param {key} is given twice")
        params[key] = value
    return params


def build_spec(*, model: str, params: dict[str, Any] | None = None, tiny: str | None = None) -> RunSpec:
    """The resolved RunSpec of a generator: defaults for its media type, then `params`.

    `tiny` ("image" or "video") gives the tiny CPU pipeline's settings. Keys are PARAM_NAMES or
    `call.<argument>` (passed to the pipeline's __call__ as given). Raises SpecError naming a bad key/value.
    """
    params = dict(params or {})
    values: dict[str, Any] = {}
    call_kwargs: dict[str, Any] = dict(params.pop("call_kwargs", None) or {})
    for key, value in params.items():
        if key.startswith("call."):
            name = key[5:]
            if not _CALL_KW_RE.match(name) or name in ("prompt", "generator", "output_type", "num_images_per_prompt"):
                raise SpecError(
                    f"--param {key}: {name!r} cannot be set (the worker sets prompt, generator, "
                    "output_type and one output per seed)"
                )
            call_kwargs[name] = _call_value(value)
        elif key in PARAM_NAMES and key != "model":
            values[key] = _typed(key, value)
        else:
            raise SpecError(
                f"unknown parameter {key!r} (known: {', '.join(PARAM_NAMES[1:])}, or call.<argument> "
                "for any other argument of the pipeline call)"
            )
    model = (model or "").strip()
    if tiny is not None:
        if tiny not in (IMAGE, VIDEO):
            raise SpecError(f"tiny pipelines are 'image' or 'video', got {tiny!r}")
        media_type = tiny
        model = TINY_PREFIX + tiny
        base = {**TINY[tiny]}
    else:
        if not model:
            raise SpecError("a diffusers generator needs a model path or hub id")
        if model.startswith(TINY_PREFIX):
            raise SpecError(f"model names starting with {TINY_PREFIX!r} are reserved for --tiny")
        cls = values.get("pipeline_class", "DiffusionPipeline")
        media_type = values.get("media_type") or (VIDEO if cls in VIDEO_PIPELINES else IMAGE)
        if media_type not in (IMAGE, VIDEO):
            raise SpecError(f"media_type must be image or video, got {media_type!r}")
        base = {**DEFAULTS[media_type]}
    values.pop("media_type", None)
    merged = {**base, **values}
    if media_type == IMAGE and ("num_frames" in values or "fps" in values):
        raise SpecError("num_frames and fps are for video generators (set media_type=video or a video pipeline_class)")
    if not _CLASS_RE.match(merged.get("pipeline_class", "DiffusionPipeline")):
        raise SpecError(f"pipeline_class must be a diffusers class name, got {merged['pipeline_class']!r}")
    if merged.get("scheduler") and not _CLASS_RE.match(merged["scheduler"]):
        raise SpecError(f"scheduler must be a diffusers scheduler class name, got {merged['scheduler']!r}")
    if merged.get("dtype", "float16") not in DTYPES:
        raise SpecError(f"dtype must be one of {', '.join(DTYPES)}, got {merged['dtype']!r}")
    return RunSpec(model=model, media_type=media_type, call_kwargs=call_kwargs, **merged)


def spec_from_dict(data: dict[str, Any]) -> RunSpec:
    """A stored spec (RunSpec.as_dict()) back as a RunSpec; unknown keys are refused."""
    names = {f.name for f in dataclasses.fields(RunSpec)}
    unknown = set(data) - names
    if unknown:
        raise SpecError(f"unknown spec field(s): {', '.join(sorted(unknown))}")
    return RunSpec(**data)
