"""Vague-to-Specific: fallback splitter, weighted combination, an injected fake LLM, validation, cache."""
import json

import pytest

from training.scorer.config import ScorerConfig
from training.scorer.v2s import V2SRewriter, combine, fallback_split, parse_llm_output, rewriter_from_config

LONG = ("A golden retriever wearing a red scarf sits on a wooden bench in a snowy park. "
        "Behind it, children build a snowman with a carrot nose, and a lamp post glows warmly while "
        "snowflakes fall slowly over the frozen pond.")


def test_fallback_split():
    v = fallback_split(LONG, num_specific=3)
    assert v.method == "fallback"
    assert v.vague == "A golden retriever wearing a red scarf sits on a wooden bench in a snowy park"
    assert 1 <= len(v.specific) <= 3
    joined = " ".join(v.specific)
    for word in ("retriever", "snowman", "lamp post", "pond"):
        assert word in joined  # every part of the prompt is in some specific prompt
    assert fallback_split(LONG, 3) == v  # deterministic


def test_fallback_single_sentence():
    v = fallback_split("a cat, a dog and a bird on a fence", 5)
    assert v.vague == "a cat"
    assert v.specific == ["a cat", "a dog", "a bird on a fence"]


def test_combine():
    assert combine(4.0, 2.0, [3.0, 5.0], w_original=0.5, w_vague=0.25, w_specific=0.25) == pytest.approx(3.5)
    assert combine(4.0, None, [], w_original=0.5) == 4.0
    assert combine(4.0, 2.0, [], w_original=1, w_vague=1, w_specific=5) == pytest.approx(3.0)


def test_fake_llm_is_used_and_cached(tmp_path):
    calls = []

    def fake_llm(instruction):
        calls.append(instruction)
        return 'Sure: {"vague": "a dog in a park", "specific": ["a golden retriever", "a red scarf", "a snowman", "x"]}'

    rw = V2SRewriter(llm=fake_llm, cache_dir=tmp_path, num_specific=3)
    out = rw.rewrite(LONG)
    assert out.vague == "a dog in a park" and out.specific == ["a golden retriever", "a red scarf", "a snowman"]
    assert out.method == "llm:fake_llm" and LONG in calls[0]
    again = V2SRewriter(llm=fake_llm, cache_dir=tmp_path, num_specific=3).rewrite(LONG)
    assert again == out and len(calls) == 1  # served from the disk cache


def test_invalid_llm_output_falls_back(tmp_path):
    rw = V2SRewriter(llm=lambda s: '{"vague": "", "specific": 3}', cache_dir=None)
    out = rw.rewrite(LONG)
    assert out.method.startswith("fallback-after-llm-error") and rw.errors == 1
    with pytest.raises(ValueError):
        parse_llm_output("no json here")
    with pytest.raises(ValueError):
        parse_llm_output(json.dumps({"vague": "x", "specific": []}))


def test_rewriter_from_config_defaults_to_fallback(tmp_path):
    rw = rewriter_from_config(ScorerConfig(output_dir=str(tmp_path)))
    assert rw.method == "fallback"
    rw = rewriter_from_config(ScorerConfig(output_dir=str(tmp_path)), llm=lambda s: "{}")
    assert rw.method.startswith("llm:")
