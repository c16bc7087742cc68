"""Categories for prompts that have none: a keyword rule set, or an LLM (a local Hugging Face model or an
OpenAI-compatible endpoint, through the same clients V2S uses: training/scorer/v2s.py).

The method is recorded per prompt (PromptClassification): "rules" with the matched keywords, "llm" with
the model and its answer, or "none" when no rule matched. An LLM answer that is not one of the taxonomy's
leaves is retried once, then the rule set decides and the record says so ("fallback": the reason).

Rules: every leaf's keywords are matched on word boundaries in the lower-cased prompt (a trailing * matches
any word it starts); a multi-word keyword counts for its number of words (more specific), and the leaf with
the highest total wins, ties going to the earlier leaf in the taxonomy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction

from annotation.models import Job, Prompt
from annotation.services.campaigns import campaign_get
from annotation.services.jobs import Progress, job_enqueue
from core.errors import InvalidInput
from training.services.configs import llm_endpoint_check

from ..models import PromptClassification, PromptSet, PromptSetEntry, Taxonomy
from ..selectors import prompt_set_get
from .taxonomy import Leaves

RULES_VERSION = "rules-v1"
METHODS = ("rules", "llm")
CHUNK = 500
INSTRUCTION = (
    "You classify prompts for text-to-image and text-to-video generation into a taxonomy.\n"
    "Choose the ONE leaf that best describes what the prompt mainly tests. Leaves (category / subcategory):\n"
    "{leaves}\n"
    'Answer with JSON only: {{"category": "...", "subcategory": "..."}}, copying the names exactly.\n'
    "Prompt: {prompt}"
)


class RuleSet:
    """Keyword rules compiled from a taxonomy's leaves."""

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        self.rules = []
        for entry in taxonomy.entries.order_by("position", "id"):
            patterns = [(kw, _pattern(kw), len(kw.rstrip("*").split())) for kw in entry.keywords or []]
            self.rules.append((entry, patterns))

    def classify(self, text: str) -> tuple[str, str, list[str]]:
        """(category, subcategory, matched keywords); ("", "", []) when nothing matches."""
        lowered = text.casefold()
        best, best_score, best_hits = None, 0, []
        for entry, patterns in self.rules:
            hits = [kw for kw, pattern, _ in patterns if pattern.search(lowered)]
            score = sum(weight for kw, _, weight in patterns if kw in hits)
            if score > best_score:
                best, best_score, best_hits = entry, score, hits
        if best is None:
            return "", "", []
        return best.category, best.subcategory, best_hits


@lru_cache(maxsize=4096)
def _pattern(keyword: str) -> re.Pattern:
    words = [re.escape(w) for w in keyword.rstrip("*").split()]
    tail = r"\w*" if keyword.endswith("*") else r"\b"
    return re.compile(r"\b" + r"\s+".join(words) + tail)


def parse_llm_answer(text: str, leaves: Leaves) -> tuple[str, str]:
    """The (category, subcategory) in an LLM's answer, canonical; ValueError when it is not a leaf."""
    match = re.search(r"\{.*\}", text or "", re.S)
    if not match:
        raise ValueError("no JSON object in the answer")
    data = json.loads(match.group(0))
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    category, subcategory = str(data.get("category") or ""), str(data.get("subcategory") or "")
    if not category or not subcategory:
        raise ValueError("the answer lacks category or subcategory")
    return leaves.resolve(category, subcategory)


def llm_client(*, model: str, endpoint: str = "") -> tuple[Callable[[str], str], str]:
    """(instruction -> text, recorded name): an OpenAI-compatible endpoint when one is given (one of
    QEVAL_LLM_ENDPOINTS), else a local Hugging Face causal LM (path or hub id). The clients are V2S's
    (training/scorer/v2s.py); the endpoint's key is QEVAL_LLM_API_KEY (settings)."""
    from training.scorer.v2s import hf_causal_lm_client, openai_chat_client

    if endpoint:
        endpoint = llm_endpoint_check(endpoint)
        return openai_chat_client(
            endpoint, model or "default", settings.QEVAL_LLM_API_KEY or None
        ), f"{model or 'default'}@{endpoint}"
    if not model:
        raise InvalidInput("LLM classification needs a model (a local path or hub id) or an endpoint")
    return hf_causal_lm_client(model, max_new_tokens=64), model


def prompts_classify(
    *,
    prompt_set: PromptSet,
    method: str = "rules",
    model: str = "",
    endpoint: str = "",
    overwrite: bool = False,
    llm: Callable[[str], str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Classify the set's prompts without a category (all of them with `overwrite`). Returns counts per method.
    `llm` overrides the client (a callable instruction -> text)."""
    if method not in METHODS:
        raise InvalidInput(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    taxonomy = prompt_set.taxonomy
    leaves, rules = Leaves(taxonomy), RuleSet(taxonomy)
    name = RULES_VERSION
    if method == "llm":
        if llm is None:
            llm, name = llm_client(model=model, endpoint=endpoint)
        else:
            name = model or getattr(llm, "__name__", "custom")
    listing = "\n".join(f"- {e.category} / {e.subcategory}" for e in leaves.entries)
    qs = PromptSetEntry.objects.filter(prompt_set=prompt_set)
    if not overwrite:
        qs = qs.filter(prompt__category="")
    prompt_ids = list(qs.order_by("id").values_list("prompt_id", flat=True))
    if progress:
        progress.set_total(len(prompt_ids), f"classifying {len(prompt_ids)} prompts ({method})")
    counts = {"prompts": len(prompt_ids), "rules": 0, "llm": 0, "none": 0, "fallback": 0}
    for start in range(0, len(prompt_ids), CHUNK):
        chunk = list(Prompt.objects.filter(pk__in=prompt_ids[start : start + CHUNK]).only("id", "text"))
        labels = []
        for prompt in chunk:
            labels.append((prompt.pk, *_classify_one(prompt.text, method, llm, name, leaves, rules, listing)))
        with transaction.atomic():
            for pk, category, subcategory, record in labels:
                Prompt.objects.filter(pk=pk).update(category=category, subcategory=subcategory)
                counts[record.method] += 1
                counts["fallback"] += bool(record.detail.get("fallback"))
            PromptClassification.objects.filter(prompt_id__in=[pk for pk, *_ in labels]).delete()
            PromptClassification.objects.bulk_create(
                [
                    PromptClassification(
                        prompt_id=pk, method=r.method, model=r.model, taxonomy=taxonomy, detail=r.detail
                    )
                    for pk, _, _, r in labels
                ]
            )
        if progress:
            progress.advance(len(chunk), f"classifying ({method})")
    return counts


def _classify_one(text, method, llm, name, leaves, rules, listing) -> tuple[str, str, PromptClassification]:
    fallback = ""
    if method == "llm":
        instruction = INSTRUCTION.format(leaves=listing, prompt=text)
        for _attempt in range(2):
            try:
                answer = llm(instruction)
                category, subcategory = parse_llm_answer(answer, leaves)
                return (
                    category,
                    subcategory,
                    PromptClassification(
                        method=PromptClassification.Method.LLM, model=name[:300], detail={"answer": str(answer)[:500]}
                    ),
                )
            except Exception as exc:  # noqa: BLE001 - any client or parse error: retry once, then the rules
                fallback = f"LLM answer unusable after 2 tries ({type(exc).__name__}: {str(exc)[:200]})"
    category, subcategory, hits = rules.classify(text)
    detail: dict[str, Any] = {"keywords": hits}
    if fallback:
        detail.update(fallback=fallback, llm=name)
    if not category:
        return "", "", PromptClassification(method=PromptClassification.Method.NONE, model=RULES_VERSION, detail=detail)
    return (
        category,
        subcategory,
        PromptClassification(method=PromptClassification.Method.RULES, model=RULES_VERSION, detail=detail),
    )


def prompts_classify_job(*, job: Job, progress: Progress) -> dict[str, Any]:
    """Job runner for kind "prompts_classify". params: {"campaign", "prompt_set", "method", "model", "endpoint",
    "overwrite"}. Idempotent: a repeat classifies what is still without a category."""
    params = job.params
    campaign = job.campaign or campaign_get(slug=params["campaign"])
    prompt_set = prompt_set_get(campaign=campaign, slug=params["prompt_set"])
    return prompts_classify(
        prompt_set=prompt_set,
        method=params.get("method", "rules"),
        model=params.get("model", ""),
        endpoint=params.get("endpoint", ""),
        overwrite=bool(params.get("overwrite")),
        progress=progress,
    )


def prompts_classify_enqueue(*, job: Job) -> Job:
    """Rules run on the default queue; an LLM needs a generation (GPU) worker: the job goes to that queue."""
    if job.params.get("method") != "llm":
        return job_enqueue(job=job)
    # Through the outbox like every job, on the generation queue's task (the sweep re-queues it there too).
    Job.objects.filter(pk=job.pk).update(params={**job.params, "_task": LLM_TASK})
    job.params = {**job.params, "_task": LLM_TASK}
    return job_enqueue(job=job)


LLM_TASK = "generation.run_job"
