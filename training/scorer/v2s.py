"""Vague-to-Specific (V2S) for long prompts (the paper's strategy for prompts over 25 words).

An LLM rewrites a long prompt into one *vague* prompt (the overall concept) and several *specific* prompts
(one key object with its own attributes, an action or a relation each); alignment is scored for each rewrite
and combined by a weighted average. Presets (``v2s_preset``):

* ``paper`` (default): the vague and the specific prompts only, as the paper describes V2S::

      score = (w_vague * s_vague + w_spec * mean(s_specific)) / (w_vague + w_spec)

* ``extended``: the original prompt's score as a third term (``w_orig``, 0.5 by default), which the paper
  does not have.

The paper publishes no weights: they are settings (``v2s_weight_*``). The instruction (:data:`INSTRUCTION`) is
modelled on the paper's Fig. 6 (a vague summary of the whole prompt, then specific sub-prompts that each keep
an object with its attributes), with one worked example. Rewriters, in order:

* an injected callable ``llm(instruction) -> text`` (tests, or any custom client);
* ``v2s_endpoint``: an OpenAI-compatible ``/chat/completions`` HTTP endpoint (model ``v2s_llm``, key from the
  environment variable named by ``v2s_api_key_env``), stdlib ``urllib`` only;
* ``v2s_llm`` alone: a Hugging Face causal LM (local path or hub id), greedy decoding with its chat template;
* no LLM: V2S stays OFF (:func:`rewriter_from_config` returns None and the report says why), unless
  ``v2s_rewriter: fallback`` asks for :func:`fallback_split`, a deterministic clause splitter whose results
  are marked "not comparable to Table 5" in every report.

LLM output must be JSON ``{"vague": str, "specific": [str, ...]}``; it is validated, retried once, and
replaced by the fallback if still invalid (the method recorded per prompt says which). Results are cached
per prompt on disk (``sha256(method + prompt).json``), so evaluations are repeatable and cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

INSTRUCTION = (
    "A long text prompt was used to generate an image or a video. Rewrite it for evaluating how well the "
    "generated content matches it, from vague to specific.\n"
    "1. Vague prompt: summarise the WHOLE prompt in one short sentence that keeps only its overall concept "
    "(the main subject and the scene), without details.\n"
    "2. Specific prompts: split the prompt into exactly {n} short prompts, each describing one key part of it "
    "in detail: one object together with its own attributes (colour, shape, number, material, state), an "
    "action, or a relationship between objects. Keep every attribute with the object it belongs to, use only "
    "content from the original prompt, and cover all of it.\n"
    'Answer with JSON only, in the form {{"vague": "...", "specific": ["...", "..."]}}.\n'
    "Example (2 specific prompts): Prompt: A fluffy white cat wearing a tiny red bow tie sits on a stack of "
    "old leather books, while a brass lamp casts warm light across a cluttered wooden desk.\n"
    'Answer: {{"vague": "A cat sitting on books at a desk.", "specific": ["A fluffy white cat wearing a tiny '
    'red bow tie sits on a stack of old leather books.", "A brass lamp casts warm light across a cluttered '
    'wooden desk."]}}\n'
    "Prompt: {prompt}\nAnswer:"
)
PRESETS = ("paper", "extended")
NOT_COMPARABLE = (
    "not comparable to Table 5: the V2S prompts come from the heuristic fallback splitter, not an LLM as in the paper"
)


@dataclass
class V2SPrompts:
    vague: str
    specific: list[str]
    method: str  # "fallback" or "llm:<name>" (or "fallback-after-llm-error")


def _clean(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip(" ,;.:-\n\t")


def fallback_split(prompt: str, num_specific: int = 3) -> V2SPrompts:
    """Heuristic V2S without an LLM (results are "not comparable to Table 5"): the first sentence (or, for a
    one-sentence prompt, its first clause) as vague; clauses grouped into specifics.

    Clauses are split on sentence ends, ``,`` ``;`` and "while"/"whereas" only: "and" and "with" bind an
    attribute or a companion to its object ("a cat with a red hat"), so they never split. Pieces under three
    words are merged into their neighbour; more clauses than ``num_specific`` are grouped contiguously, so every
    part of the prompt lands in some specific prompt with the words around it.
    """
    text = _clean(prompt)
    sentences = [s for s in (_clean(x) for x in re.split(r"(?<=[.!?;])\s+", text)) if s]
    vague = sentences[0] if sentences else text
    pieces = [_clean(p) for p in re.split(r"[.!?;,]|\bwhile\b|\bwhereas\b", text)]
    pieces = [p for p in pieces if p]
    clauses: list[str] = []
    for p in pieces:
        if clauses and len(p.split()) < 3:
            clauses[-1] = f"{clauses[-1]} {p}"
        else:
            clauses.append(p)
    if len(sentences) <= 1 and clauses:
        vague = clauses[0]
    if not clauses:
        clauses = [text]
    n = max(1, num_specific)
    if len(clauses) > n:
        size = -(-len(clauses) // n)
        clauses = [", ".join(clauses[i : i + size]) for i in range(0, len(clauses), size)]
    seen, specific = set(), []
    for c in clauses:
        if c.lower() not in seen:
            seen.add(c.lower())
            specific.append(c)
    return V2SPrompts(vague=vague, specific=specific, method="fallback")


def parse_llm_output(text: str, num_specific: int | None = None) -> tuple[str, list[str]]:
    """Validate the LLM's JSON (first ``{...}`` block in the text). Raises ValueError when invalid."""
    m = re.search(r"\{.*\}", text, flags=re.S)
    if not m:
        raise ValueError("no JSON object in the LLM output")
    try:
        data = json.loads(m.group(0))
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    vague = data.get("vague") if isinstance(data, dict) else None
    specific = data.get("specific") if isinstance(data, dict) else None
    if not isinstance(vague, str) or not vague.strip():
        raise ValueError("'vague' must be a non-empty string")
    if not isinstance(specific, list) or not specific or not all(isinstance(s, str) and s.strip() for s in specific):
        raise ValueError("'specific' must be a non-empty list of non-empty strings")
    specific = [s.strip() for s in specific]
    if num_specific:
        specific = specific[:num_specific]
    return vague.strip(), specific


def combine(
    original: float,
    vague: float | None,
    specific: list[float],
    *,
    w_original: float = 0.5,
    w_vague: float = 0.25,
    w_specific: float = 0.25,
) -> float:
    """Weighted average of the original, vague and mean-specific alignment scores (missing parts dropped;
    ``w_original=0`` is the paper preset)."""
    parts = [(w_original, original)] if w_original > 0 else []
    if vague is not None:
        parts.append((w_vague, vague))
    if specific:
        parts.append((w_specific, sum(specific) / len(specific)))
    total = sum(w for w, _ in parts)
    if total <= 0:
        return original
    return sum(w * s for w, s in parts) / total


class V2SRewriter:
    """Rewrites long prompts (LLM or fallback), with an on-disk cache."""

    def __init__(
        self,
        *,
        llm: Callable[[str], str] | None = None,
        llm_name: str | None = None,
        cache_dir: str | Path | None = None,
        num_specific: int = 3,
    ):
        self.llm = llm
        self.name = f"llm:{llm_name or getattr(llm, '__name__', 'custom')}" if llm else "fallback"
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.num_specific = num_specific
        self.errors = 0

    @property
    def method(self) -> str:
        return self.name

    def _cache_path(self, prompt: str) -> Path | None:
        if not self.cache_dir:
            return None
        h = hashlib.sha256(f"{self.name}\n{self.num_specific}\n{prompt}".encode()).hexdigest()
        return self.cache_dir / h[:2] / f"{h}.json"

    def rewrite(self, prompt: str) -> V2SPrompts:
        path = self._cache_path(prompt)
        if path and path.exists():
            try:
                data = json.loads(path.read_text())
                return V2SPrompts(vague=data["vague"], specific=list(data["specific"]), method=data["method"])
            except (ValueError, TypeError, KeyError):
                pass
        result = self._rewrite(prompt)
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({**asdict(result), "_prompt": prompt}))
        return result

    def _rewrite(self, prompt: str) -> V2SPrompts:
        if self.llm is None:
            return fallback_split(prompt, self.num_specific)
        instruction = INSTRUCTION.format(n=self.num_specific, prompt=prompt)
        last_error = None
        for _ in range(2):
            try:
                vague, specific = parse_llm_output(self.llm(instruction), self.num_specific)
                return V2SPrompts(vague=vague, specific=specific, method=self.name)
            except Exception as exc:  # noqa: BLE001 - any client error falls back
                last_error = exc
        self.errors += 1
        fb = fallback_split(prompt, self.num_specific)
        fb.method = f"fallback-after-llm-error ({type(last_error).__name__})"
        return fb


# --- LLM clients -----------------------------------------------------------------------------------


def openai_chat_client(
    endpoint: str, model: str, api_key: str | None = None, timeout: float = 60.0
) -> Callable[[str], str]:
    """``instruction -> text`` through an OpenAI-compatible ``POST {endpoint}/chat/completions``."""
    import urllib.request

    url = endpoint.rstrip("/") + "/chat/completions"

    def call(instruction: str) -> str:
        body = json.dumps(
            {
                "model": model,
                "temperature": 0,
                "messages": [{"role": "user", "content": instruction}],
                "response_format": {"type": "json_object"},
            }
        ).encode()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        if api_key:
            req.add_header("Authorization", f"Bearer {api_key}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - configured URL
            data = json.loads(resp.read())
        return data["choices"][0]["message"]["content"]

    call.__name__ = model
    return call


def hf_causal_lm_client(
    model_name_or_path: str, *, max_new_tokens: int = 256, device: str | None = None
) -> Callable[[str], str]:
    """``instruction -> text`` with a local/hub Hugging Face causal LM (greedy, its chat template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tok = AutoTokenizer.from_pretrained(model_name_or_path)
    loaded = AutoModelForCausalLM.from_pretrained(
        model_name_or_path, dtype=torch.bfloat16 if device.startswith("cuda") else torch.float32
    )
    model = loaded.to(device).eval()  # type: ignore[arg-type]  # transformers' stub of .to() wants a model

    def call(instruction: str) -> str:
        messages = [{"role": "user", "content": instruction}]
        if tok.chat_template:
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = instruction + "\n"
        enc = tok(text, return_tensors="pt").to(device)
        with torch.no_grad():
            out = model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id or tok.eos_token_id
            )
        return str(tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True))

    call.__name__ = model_name_or_path
    return call


def weights_for(cfg) -> dict[str, float]:
    """The combination weights of the configured preset (the original prompt's weight is 0 under 'paper')."""
    return {
        "original": cfg.v2s_weight_original if cfg.v2s_preset == "extended" else 0.0,
        "vague": cfg.v2s_weight_vague,
        "specific_mean": cfg.v2s_weight_specific,
    }


def rewriter_from_config(cfg, *, llm: Callable[[str], str] | None = None) -> V2SRewriter | None:
    """The rewriter a ScorerConfig asks for (an injected ``llm`` wins). None when it asks for an LLM and none
    is configured: V2S then stays off (say so with :func:`off_reason`)."""
    cache = cfg.v2s_cache_dir or str(Path(cfg.output_dir) / "v2s_cache")
    name = None
    if llm is None and cfg.v2s_rewriter == "fallback":
        return V2SRewriter(llm=None, cache_dir=cache, num_specific=cfg.v2s_num_specific)
    if llm is None and cfg.v2s_endpoint:
        llm = openai_chat_client(cfg.v2s_endpoint, cfg.v2s_llm or "default", os.environ.get(cfg.v2s_api_key_env))
        name = f"{cfg.v2s_llm or 'default'}@{cfg.v2s_endpoint}"
    elif llm is None and cfg.v2s_llm:
        llm = hf_causal_lm_client(cfg.v2s_llm)
        name = cfg.v2s_llm
    if llm is None:
        return None
    return V2SRewriter(llm=llm, llm_name=name, cache_dir=cache, num_specific=cfg.v2s_num_specific)


def off_reason() -> str:
    return (
        "V2S was asked for but no LLM is configured (v2s_llm or v2s_endpoint), so it stayed off; "
        "v2s_rewriter=fallback uses the heuristic splitter (" + NOT_COMPARABLE + ")"
    )


def describe(rewriter: V2SRewriter, cfg, methods: set[str], items: int) -> dict:
    """What a report says about the V2S that was used: preset, weights, rewriter, comparability."""
    fallback = any(m.startswith("fallback") for m in methods) or rewriter.llm is None
    info = {
        "used": items > 0,
        "method": rewriter.method,
        "methods_seen": sorted(methods),
        "preset": cfg.v2s_preset,
        "llm_errors": rewriter.errors,
        "weights": weights_for(cfg),
        "items": items,
        "min_words_exclusive": cfg.long_prompt_words,
        "comparable_to_table5": bool(items) and not fallback and cfg.v2s_preset == "paper",
    }
    if fallback and items:
        info["note"] = NOT_COMPARABLE
    elif cfg.v2s_preset != "paper" and items:
        info["note"] = "not comparable to Table 5: the 'extended' preset adds the original prompt's score"
    return info
