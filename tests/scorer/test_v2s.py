"""Vague-to-Specific: fallback splitter, weighted combination, an injected fake LLM, validation, cache."""

import json

import pytest

from training.scorer.config import ScorerConfig
from training.scorer.v2s import V2SRewriter, combine, fallback_split, parse_llm_output, rewriter_from_config

LONG = (
    "A golden retriever wearing a red scarf sits on a wooden bench in a snowy park. "
    "Behind it, children build a snowman with a carrot nose, and a lamp post glows warmly while "
    "snowflakes fall slowly over the frozen pond."
)


def test_fallback_split():
    v = fallback_split(LONG, num_specific=3)
    assert v.method == "fallback"
    assert v.vague == "A golden retriever wearing a red scarf sits on a wooden bench in a snowy park"
    assert 1 <= len(v.specific) <= 3
    joined = " ".join(v.specific)
    for word in ("retriever", "snowman", "lamp post", "pond"):
        assert word in joined  # every part of the prompt is in some specific prompt
    assert fallback_split(LONG, 3) == v  # deterministic


def test_fallback_single_sentence_keeps_attributes_with_their_objects():
    v = fallback_split("a cat with a red hat, a small dog and a bird on a fence", 5)
    assert v.vague == "a cat with a red hat"
    # "with" and "and" bind: the hat stays with the cat; the dog and the bird stay one clause
    assert v.specific == ["a cat with a red hat", "a small dog and a bird on a fence"]


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


def test_without_an_llm_v2s_is_off_unless_the_fallback_is_asked_for(tmp_path):
    assert rewriter_from_config(ScorerConfig(output_dir=str(tmp_path))) is None
    rw = rewriter_from_config(ScorerConfig(output_dir=str(tmp_path), v2s_rewriter="fallback"))
    assert rw.method == "fallback"
    rw = rewriter_from_config(ScorerConfig(output_dir=str(tmp_path)), llm=lambda s: "{}")
    assert rw.method.startswith("llm:")


def test_presets_and_comparability(tmp_path):
    from training.scorer.v2s import INSTRUCTION, describe, weights_for

    paper = ScorerConfig(output_dir=str(tmp_path))
    assert weights_for(paper) == {"original": 0.0, "vague": 0.25, "specific_mean": 0.25}
    assert combine(5.0, 2.0, [3.0, 5.0], **{"w_original": 0.0, "w_vague": 0.25, "w_specific": 0.25}) == pytest.approx(
        3.0
    )
    extended = ScorerConfig(output_dir=str(tmp_path), v2s_preset="extended")
    assert weights_for(extended)["original"] == 0.5
    llm = V2SRewriter(llm=lambda s: "{}", llm_name="qwen")
    assert describe(llm, paper, {"llm:qwen"}, 4)["comparable_to_table5"] is True
    fb = describe(V2SRewriter(), paper, {"fallback"}, 4)
    assert fb["comparable_to_table5"] is False and "not comparable to Table 5" in fb["note"]
    assert "not comparable" in describe(llm, extended, {"llm:qwen"}, 4)["note"]
    text = INSTRUCTION.format(n=3, prompt=LONG)
    assert "Vague prompt" in text and "exactly 3" in text and text.endswith(LONG + "\nAnswer:")
    with pytest.raises(ValueError):
        ScorerConfig(v2s_preset="mixed")
