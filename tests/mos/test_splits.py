"""Splits by prompt: no prompt in two splits, stratified by generator, reproducible with the seed."""

import json
from collections import Counter

import numpy as np
import pytest

from annotation.services.exports import dataset_export
from annotation.services.exports.splits import assign_splits, parse_split
from core.errors import InvalidInput

RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


def _keys(seed=0, n_prompts=600, n_generators=5):
    rng = np.random.default_rng(seed)
    keys = []
    for p in range(n_prompts):
        # each prompt was sent to a random subset of generators, 1-3 items each
        for g in rng.choice(n_generators, size=rng.integers(1, n_generators + 1), replace=False):
            keys += [(p, int(g))] * int(rng.integers(1, 4))
    return keys


def test_each_generator_follows_the_ratios():
    keys = _keys()
    split = assign_splits(keys, RATIOS, seed=1)
    per_gen = Counter((g, split[p]) for p, g in keys)
    totals = Counter(g for _, g in keys)
    for g, total in totals.items():
        for s, r in RATIOS.items():
            assert per_gen[(g, s)] / total == pytest.approx(r, abs=0.03), (g, s)


def test_same_seed_same_split_other_seed_other_split():
    keys = _keys()
    a, b, c = (assign_splits(keys, RATIOS, seed=s) for s in (7, 7, 8))
    assert a == b
    assert a != c


def test_every_prompt_gets_exactly_one_split():
    keys = _keys(n_prompts=50)
    split = assign_splits(keys, RATIOS, seed=0)
    assert set(split) == {p for p, _ in keys} and set(split.values()) <= set(RATIOS)


@pytest.mark.parametrize(
    "text,message",
    [
        ("train=0.8,val=0.3", "sum to 1"),
        ("train=0.8;val=0.2", "malformed"),
        ("train=x,val=1", "malformed split ratio"),
        ("train=1.2,val=-0.2", "positive"),
        ("train=0.5,train=0.5", "twice"),
        ("all=1", "unknown split name"),
    ],
)
def test_malformed_splits_are_refused(text, message):
    with pytest.raises(InvalidInput, match=message):
        parse_split(text)


def test_parse_split_orders_the_names():
    assert parse_split("test=0.1,train=0.9") == {"train": 0.9, "test": 0.1}
    assert parse_split("") is None


def test_exported_splits_share_no_prompt_and_repeat_with_the_seed(db, campaign, tmp_path):
    from annotation.services.mos import mos_aggregate
    from tests.factories import GeneratorFactory, ItemFactory, PromptFactory, UserFactory

    from .conftest import rate

    gens = [GeneratorFactory(name=f"g{k}") for k in range(3)]
    prompts = [PromptFactory(text=f"prompt number {k}") for k in range(20)]
    items = [ItemFactory(campaign=campaign, prompt=p, generator=g) for p in prompts for g in gens]
    rng = np.random.default_rng(0)
    for _ in range(2):
        rate(campaign, UserFactory(), {it: tuple(int(x) for x in rng.integers(1, 6, size=2)) for it in items})
    version = mos_aggregate(campaign=campaign)
    outs = []
    for k in range(2):
        dataset_export(
            version=version, fmt="sft", out=tmp_path / f"e{k}", split="train=0.6,val=0.2,test=0.2", seed=5, media="none"
        )
        by_split = {}
        for s in ("train", "val", "test"):
            recs = [json.loads(x) for x in (tmp_path / f"e{k}" / f"sft_{s}.jsonl").read_text().splitlines()]
            assert all(r["split"] == s for r in recs)
            by_split[s] = {r["prompt"] for r in recs}
        assert not (by_split["train"] & by_split["val"]) and not (by_split["train"] & by_split["test"])
        assert not (by_split["val"] & by_split["test"])
        assert sum(len(v) for v in by_split.values()) == 20
        outs.append(by_split)
    assert outs[0] == outs[1]
    assert len(outs[0]["train"]) == 12 and len(outs[0]["val"]) == 4


def test_many_tiny_generators_still_follow_the_overall_ratios():
    keys = [(p, p) for p in range(10)]  # ten prompts, each with one item of its own generator
    split = assign_splits(keys, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    assert Counter(split.values()) == {"train": 6, "val": 2, "test": 2}
