"""Scoring batched by media size: the same predictions in the caller's order, with less padding; the size estimate
read from headers matches what the processor makes; the loader, dtype and attention choices for a GPU."""

from __future__ import annotations

import multiprocessing

import pytest

torch = pytest.importorskip("torch")

from training.scorer.batching import (  # noqa: E402
    PlannedBatches,
    batch_plan,
    padding_tokens,
    size_order,
    visual_size,
)
from training.scorer.config import ConfigError, ScorerConfig  # noqa: E402
from training.scorer.data import MediaSettings, ScorerCollator, loader_workers, normalise_record  # noqa: E402
from training.scorer.modeling import attention_implementation, load_scorer, scoring_dtype  # noqa: E402
from training.scorer.predict import _in_caller_order, score_records, scoring_batches  # noqa: E402

# (width, height) of each image, in an arrival order that mixes small and large, and prompts of mixed lengths
SIZES = [(56, 56), (168, 112), (56, 84), (140, 140), (84, 56), (112, 168), (56, 56), (140, 112), (84, 84), (168, 168)]
WORDS = "a red cube on a wooden table next to a small green plant in the morning light".split()


@pytest.fixture(scope="module")
def scorer(tiny_model_dir, base_overrides):
    # the pixel budget holds every test image as it is, so the processor resizes none of them
    overrides = {**base_overrides, "image_min_pixels": 28 * 28, "image_max_pixels": 200 * 200, "eval_batch_size": 4}
    return load_scorer(tiny_model_dir, device="cpu", overrides=overrides)


@pytest.fixture(scope="module")
def mixed_records(tmp_path_factory, noise_pngs):
    records = []
    for i, path in enumerate(noise_pngs(tmp_path_factory.mktemp("mixed"), SIZES)):
        records.append(
            normalise_record(
                {
                    "item_id": str(i),
                    "media": str(path),
                    "media_type": "image",
                    "dimension": "alignment" if i % 2 else "quality",
                    "prompt": " ".join(WORDS[: 2 + (i * 7) % len(WORDS)]),
                }
            )
        )
    return records


def _collator(scorer):
    return ScorerCollator(scorer.processor, MediaSettings.from_config(scorer.config))


def test_grouped_scoring_gives_the_same_predictions_in_the_callers_order(scorer, mixed_records):
    args = (scorer.model, scorer.processor, scorer.level_ids, mixed_records, scorer.config)
    grouped = score_records(*args, group_by_size=True)
    plain = score_records(*args, group_by_size=False)
    one_by_one = score_records(*args, batch_size=1, group_by_size=False)  # no padding at all: the reference
    assert len(grouped) == len(plain) == len(mixed_records)
    for g, p, o in zip(grouped, plain, one_by_one):
        # left padding is masked out, so only the float rounding of other batch shapes may differ
        assert g[0] == pytest.approx(o[0], abs=1e-5) and p[0] == pytest.approx(o[0], abs=1e-5)
        assert g[1] == pytest.approx(o[1], abs=1e-6)
        assert sum(g[1]) == pytest.approx(1.0, abs=1e-5)
    # the grouping did reorder the work, and each answer still landed at its own record
    order = size_order(mixed_records, _collator(scorer))
    assert order != list(range(len(mixed_records)))
    scores = [s for s, _ in one_by_one]
    assert len(set(round(s, 6) for s in scores)) > 1  # distinct answers, so a misplaced one would show


def test_grouping_reduces_padding_tokens(scorer, mixed_records):
    collator = _collator(scorer)
    grouped = batch_plan(mixed_records, collator, 4, group_by_size=True)
    plain = batch_plan(mixed_records, collator, 4, group_by_size=False)
    assert sorted(i for b in grouped for i in b) == list(range(len(mixed_records)))
    assert [len(b) for b in grouped] == [4, 4, 2]
    pad_g, total_g = padding_tokens(mixed_records, collator, grouped)
    pad_p, total_p = padding_tokens(mixed_records, collator, plain)
    assert pad_g < pad_p / 2, (pad_g, pad_p)
    assert total_g - pad_g == total_p - pad_p  # the same real tokens either way
    # longest first: the first batch holds the four longest sequences, as the processor makes them
    lengths = [collator([{**r, "index": 0}])["input_ids"].shape[1] for r in mixed_records]
    assert sorted(lengths[i] for i in grouped[0]) == sorted(lengths)[-4:]


def test_the_header_estimate_is_what_the_processor_makes(scorer, mixed_records, export_dir):
    from training.scorer.data import read_records

    collator = _collator(scorer)
    videos = [r for r in read_records(export_dir, "train") if r["media_type"] == "video"][:1]
    assert videos, "the synthetic export has a video"
    for rec in [*mixed_records, *videos]:
        inputs = collator([{**rec, "index": 0}])
        grid = inputs["video_grid_thw" if rec["media_type"] == "video" else "image_grid_thw"][0]
        patches = int(grid.prod())  # temporal patches x 14 px patches
        assert visual_size(rec, collator.media, collator.factor) == patches * 14 * 14, rec["media"]


def test_unreadable_media_sorts_as_empty_and_fails_where_it_is_loaded(scorer, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    rec = normalise_record({"media": str(bad), "media_type": "image", "dimension": "quality", "prompt": "x"})
    collator = _collator(scorer)
    assert visual_size(rec, collator.media, collator.factor) == 0
    with pytest.raises(Exception):  # noqa: B017  # PIL's own error, as before grouping existed
        score_records(scorer.model, scorer.processor, scorer.level_ids, [rec], scorer.config)


def test_results_are_put_back_by_index_and_a_missing_one_is_an_error():
    idx = [torch.tensor([2, 0]), torch.tensor([1])]
    scores = [torch.tensor([3.0, 1.0]), torch.tensor([2.0])]
    probs = [torch.eye(5)[[2, 0]], torch.eye(5)[[1]]]
    out = _in_caller_order(3, idx, scores, probs)
    assert [s for s, _ in out] == [1.0, 2.0, 3.0]
    assert [p.index(1.0) for _, p in out] == [0, 1, 2]
    with pytest.raises(RuntimeError, match="no result for records \\[3\\]"):
        _in_caller_order(4, idx, scores, probs)
    assert _in_caller_order(0, [], [], []) == []
    with pytest.raises(RuntimeError, match="no results for 2 records"):
        _in_caller_order(2, [], [], [])


def _collated_by(batch):
    import os

    return os.getpid(), list(batch)


def test_the_first_batch_is_collated_in_process_while_the_workers_take_the_rest():
    """A loader's workers yield nothing until one has started and collated a whole batch: the first batch is
    collated here instead, while the workers start on the others; the batches and their order are the plan's."""
    import os

    from torch.utils.data import DataLoader

    plan = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    loader = DataLoader(list(range(10)), batch_sampler=PlannedBatches(plan, 3), collate_fn=_collated_by, num_workers=2)
    got = list(scoring_batches(loader))
    assert [ids for _, ids in got] == plan
    assert got[0][0] == os.getpid()  # the first batch: this process
    assert all(pid != os.getpid() for pid, _ in got[1:])  # the rest: the loader's worker processes
    no_workers = DataLoader(list(range(10)), batch_sampler=PlannedBatches(plan, 3), collate_fn=_collated_by)
    assert list(scoring_batches(no_workers)) == [(os.getpid(), ids) for ids in plan]


def test_scoring_with_loader_workers_gives_the_same_predictions(scorer, mixed_records):
    args = (scorer.model, scorer.processor, scorer.level_ids, mixed_records)
    in_process = score_records(*args, scorer.config)
    with_workers = score_records(*args, scorer.config.replace(num_workers=2))
    assert len(with_workers) == len(mixed_records)
    for w, p in zip(with_workers, in_process):
        assert w[0] == pytest.approx(p[0], abs=1e-6) and w[1] == pytest.approx(p[1], abs=1e-6)


def _workers_in_child(queue):
    queue.put(loader_workers(2, "cuda"))


def test_loader_workers():
    assert loader_workers(None, "cpu") == 0
    assert loader_workers(3, "cpu") == 3
    import os

    assert loader_workers(None, "cuda") == min(4, max((os.cpu_count() or 1) - 1, 0))
    # a daemonic process (what a Celery prefork child is) may not start workers: it scores in-process
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_workers_in_child, args=(queue,), daemon=True)
    child.start()
    child.join(60)
    assert queue.get(timeout=5) == 0


def test_scoring_dtype_and_attention():
    auto = ScorerConfig()
    assert scoring_dtype(auto, "cuda") == torch.bfloat16
    assert scoring_dtype(auto, "cpu") == torch.float32
    assert scoring_dtype(ScorerConfig(bf16=True), "cpu") == torch.bfloat16  # trained in bf16: as before
    assert scoring_dtype(ScorerConfig(score_dtype="fp32"), "cuda") == torch.float32
    assert scoring_dtype(ScorerConfig(score_dtype="bf16"), "cpu") == torch.bfloat16
    assert attention_implementation("sdpa", "cpu") == "sdpa"
    assert attention_implementation("eager", "cuda") == "eager"
    with pytest.warns(UserWarning, match="flash_attention_2"):
        assert attention_implementation("flash_attention_2", "cpu") == "sdpa"


def test_config_values_for_the_gpu_settings():
    assert ScorerConfig.from_dict({"num_workers": None}).num_workers is None
    assert ScorerConfig.from_dict({"num_workers": "2"}).num_workers == 2
    assert ScorerConfig().eval_group_by_size is True and ScorerConfig().score_dtype == "auto"
    for bad in ({"score_dtype": "fp16"}, {"num_workers": -1}):
        with pytest.raises(ConfigError):
            ScorerConfig.from_dict(bad)
