"""Qwen2-VL's vision attention batched by runs of equal-length images (training/scorer/vision_attention.py): the
same numbers as transformers' per-image loop, forward and backward, on images of one size, of mixed sizes and on
videos, with one SDPA call per run instead of one per image; eager attention and other models keep the stock way."""

from __future__ import annotations

import threading

import pytest

torch = pytest.importorskip("torch")

from training.scorer.config import ConfigError, ScorerConfig  # noqa: E402
from training.scorer.modeling import load_scorer  # noqa: E402
from training.scorer.vision_attention import segment_runs, set_vision_attention  # noqa: E402

PATCH = 3 * 2 * 14 * 14  # channels x temporal patch x patch x patch: one row of the tower's input
GRIDS = {
    "one size": [[1, 8, 8]] * 5,
    "mixed sizes": [[1, 8, 8], [1, 8, 8], [1, 4, 6], [1, 4, 6], [1, 8, 8]],
    "videos": [[3, 4, 4], [1, 4, 4], [2, 6, 4]],  # a video is one segment per frame pair
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from training.scorer.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("vision") / "m", vision_depth=3, vision_embed_dim=64)


def load(model_dir, attn="sdpa"):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(model_dir, attn_implementation=attn).eval()


def tower_inputs(grid):
    grid_thw = torch.tensor(grid)
    n = int((grid_thw[:, 0] * grid_thw[:, 1] * grid_thw[:, 2]).sum())
    return torch.randn(n, PATCH, generator=torch.Generator().manual_seed(n)), grid_thw


def sdpa_calls(fn) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return sum(e.count for e in prof.key_averages() if e.key == "aten::scaled_dot_product_attention")


def test_segment_runs_are_read_once_per_forward():
    from transformers.vision_utils import get_vision_cu_seqlens

    cu = get_vision_cu_seqlens(torch.tensor(GRIDS["mixed sizes"]))
    assert segment_runs(cu) == ((2, 64), (2, 24), (1, 64))
    cu[-1] = 0  # a cu_seqlens tensor is read once: the layers after the first take the runs kept for it
    assert segment_runs(cu) == ((2, 64), (2, 24), (1, 64))
    assert segment_runs(get_vision_cu_seqlens(torch.tensor(GRIDS["videos"]))) == ((4, 16), (2, 24))


@pytest.mark.parametrize("case", list(GRIDS))
def test_batched_equals_per_image_with_fewer_calls(model_dir, case):
    model = load(model_dir)
    visual = model.model.visual
    x, grid_thw = tower_inputs(GRIDS[case])
    out, calls = {}, {}
    with torch.inference_mode():
        for mode in ("per_image", "batched"):
            assert set_vision_attention(model, mode) == 3  # the tower's three attention layers
            out[mode] = visual(x, grid_thw=grid_thw).pooler_output
            calls[mode] = sdpa_calls(lambda: visual(x, grid_thw=grid_thw))
    torch.testing.assert_close(out["batched"], out["per_image"], rtol=1e-5, atol=1e-6)
    segments = sum(t for t, _, _ in GRIDS[case])
    runs = {"one size": 1, "mixed sizes": 3, "videos": 2}[case]
    assert calls == {"per_image": 3 * segments, "batched": 3 * runs}


def tower_gradients_either_way(model) -> dict:
    """The vision tower's parameter gradients of one backward pass per mode, on images of mixed sizes."""
    visual = model.model.visual
    x, grid_thw = tower_inputs(GRIDS["mixed sizes"])
    grads = {}
    for mode in ("per_image", "batched"):
        set_vision_attention(model, mode)
        model.zero_grad(set_to_none=True)
        visual(x, grid_thw=grid_thw).pooler_output.square().sum().backward()
        grads[mode] = {n: p.grad.clone() for n, p in visual.named_parameters() if p.grad is not None}
    return grads


def test_batched_gradients_equal_per_image(model_dir):
    grads = tower_gradients_either_way(load(model_dir).train())
    assert grads["batched"].keys() == grads["per_image"].keys() and grads["batched"]
    for name, grad in grads["batched"].items():
        torch.testing.assert_close(grad, grads["per_image"][name], rtol=1e-4, atol=1e-6, msg=name)


def test_eager_attention_keeps_the_stock_forward(model_dir):
    model = load(model_dir, attn="eager")
    visual = model.model.visual
    x, grid_thw = tower_inputs(GRIDS["mixed sizes"])
    with torch.inference_mode():
        set_vision_attention(model, "per_image")
        stock = visual(x, grid_thw=grid_thw).pooler_output
        set_vision_attention(model, "batched")
        assert sdpa_calls(lambda: visual(x, grid_thw=grid_thw)) == 0
        torch.testing.assert_close(visual(x, grid_thw=grid_thw).pooler_output, stock)


def test_gradient_checkpointing_recomputes_the_same_way(model_dir):
    """Recomputation in the backward pass replays each layer with its forward's lengths (the same tensor)."""
    model = load(model_dir).train()
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    grads = {mode: g["blocks.0.attn.qkv.weight"] for mode, g in tower_gradients_either_way(model).items()}
    torch.testing.assert_close(grads["batched"], grads["per_image"], rtol=1e-4, atol=1e-6)


def test_threads_read_their_own_runs(model_dir):
    """Two threads scoring with one model (the web process's synchronous scoring) each get their own answer."""
    model = load(model_dir)
    set_vision_attention(model, "batched")
    visual = model.model.visual
    cases = [tower_inputs(GRIDS[c]) for c in ("mixed sizes", "videos")]
    with torch.inference_mode():
        expected = [visual(x, grid_thw=g).pooler_output for x, g in cases]
    results: dict[int, list] = {0: [], 1: []}
    errors: list[BaseException] = []

    def score(k):
        try:
            with torch.inference_mode():
                for _ in range(20):
                    results[k].append(visual(cases[k][0], grid_thw=cases[k][1]).pooler_output)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test below
            errors.append(exc)

    threads = [threading.Thread(target=score, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in (0, 1):
        for out in results[k]:
            torch.testing.assert_close(out, expected[k])


def test_scorer_scores_the_same_either_way(model_dir, tmp_path, noise_pngs):
    """Through load_scorer (the config's switch) and the scoring path, on images of two sizes."""
    from training.scorer.data import normalise_record
    from training.scorer.predict import score_records

    sizes = [(56, 56), (112, 84), (56, 56), (112, 84), (56, 56), (84, 84)]
    records = [
        normalise_record(
            {"item_id": str(i), "media": str(path), "media_type": "image", "dimension": "quality", "prompt": "a cat"}
        )
        for i, path in enumerate(noise_pngs(tmp_path, sizes))
    ]
    overrides = {"image_min_pixels": 28 * 28, "image_max_pixels": 200 * 200, "eval_batch_size": 3, "num_workers": 0}
    scores = {}
    for mode in ("batched", "per_image"):
        loaded = load_scorer(model_dir, device="cpu", overrides={**overrides, "vision_attention": mode})
        switched = [m._qeval_batched for m in loaded.model.modules() if hasattr(m, "_qeval_batched")]
        assert switched == [mode == "batched"] * 3  # every vision attention layer, as the config says
        scores[mode] = score_records(loaded.model, loaded.processor, loaded.level_ids, records, loaded.config)
    for a, b in zip(scores["batched"], scores["per_image"]):
        assert a[0] == pytest.approx(b[0], abs=1e-5)


def test_a_switched_model_pickles(model_dir):
    """torch.save(model) pickles every module by its class's name: the batched class has one."""
    import pickle

    model = load(model_dir)
    set_vision_attention(model, "batched")
    visual = model.model.visual
    copy = pickle.loads(pickle.dumps(visual))
    assert type(copy.blocks[0].attn) is type(visual.blocks[0].attn) and copy.blocks[0].attn._qeval_batched
    x, grid_thw = tower_inputs(GRIDS["mixed sizes"])
    with torch.inference_mode():
        torch.testing.assert_close(copy(x, grid_thw=grid_thw).pooler_output, visual(x, grid_thw=grid_thw).pooler_output)


def test_other_models_and_bad_modes():
    assert set_vision_attention(torch.nn.Linear(2, 2), "batched") == 0  # no Qwen2-VL vision tower: nothing done
    with pytest.raises(ValueError, match="vision_attention must be one of batched, per_image"):
        set_vision_attention(torch.nn.Linear(2, 2), "flash")
    with pytest.raises(ConfigError, match="vision_attention must be one of"):
        ScorerConfig(vision_attention="per-image")
    assert ScorerConfig().vision_attention == "batched"
