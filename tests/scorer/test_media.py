"""Video input (PyAV, fps sampling, pixel budget), the no-torchvision processor, scoring a video."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.scorer.media import load_video, sample_times, write_test_video  # noqa: E402
from training.scorer.processing import QwenVLFallbackProcessor, load_fallback_processor  # noqa: E402


def test_sample_times():
    assert sample_times(2.0, 8, 64) == [i / 8 for i in range(16)]
    assert len(sample_times(10.0, 8, 12)) == 12
    assert len(sample_times(0.1, 8, 12)) == 2


def test_video_sampled_by_fps_with_pixel_budget(tmp_path):
    path = write_test_video(tmp_path / "v.mp4", frames=24, fps=12, width=160, height=120)  # 2 s
    frames = load_video(path, fps=4, max_pixels=56 * 56, min_pixels=28 * 28, max_frames=64)
    assert frames.shape[0] == 8  # 2 s at 4 fps
    t, h, w, c = frames.shape
    assert c == 3 and h % 28 == 0 and w % 28 == 0 and h * w <= 56 * 56
    few = load_video(path, fps=12, max_pixels=56 * 56, max_frames=6, min_pixels=28 * 28)
    assert few.shape[0] == 6


def test_fallback_processor_expands_tokens(tiny_model_dir):
    from PIL import Image

    proc = load_fallback_processor(tiny_model_dir)
    assert isinstance(proc, QwenVLFallbackProcessor)
    img = Image.fromarray(np.zeros((60, 90, 3), np.uint8))
    video = np.zeros((4, 56, 84, 3), np.uint8)
    texts = [proc.render("<image>rate this", "image"), proc.render("<video>rate this", "video")]
    out = proc(texts, [img], [video])
    merge = proc.merge_size**2
    n_img = int(out["image_grid_thw"][0].prod()) // merge
    n_vid = int(out["video_grid_thw"][0].prod()) // merge
    assert out["video_grid_thw"][0].tolist() == [2, 4, 6]
    assert int((out["input_ids"][0] == proc.image_token_id).sum()) == n_img
    assert int((out["input_ids"][1] == proc.video_token_id).sum()) == n_vid
    assert int((out["mm_token_type_ids"] == 1).sum()) == n_img and int((out["mm_token_type_ids"] == 2).sum()) == n_vid
    assert out["pixel_values_videos"].shape == (2 * 4 * 6, 3 * 2 * 14 * 14)
    assert out["attention_mask"][:, -1].tolist() == [1, 1]  # left padding: answer position is last


def test_video_patches_match_transformers_layout(tiny_model_dir):
    """Same layout as Qwen2VLVideoProcessor.patchify (re-stated here in torch)."""
    proc = load_fallback_processor(tiny_model_dir)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (4, 56, 56, 3), dtype=np.uint8)
    ours, grid = proc.video_patches(frames)
    x = (torch.from_numpy(frames).float() / 255 - torch.tensor(proc.mean)) / torch.tensor(proc.std)
    x = x.permute(0, 3, 1, 2)[None]  # B T C H W
    b, t, c, h, w = x.shape
    p, m, tp = 14, 2, 2
    ref = x.view(b, t // tp, tp, c, h // p // m, m, p, w // p // m, m, p).permute(0, 1, 4, 7, 5, 8, 3, 2, 6, 9)
    ref = ref.reshape(b, (t // tp) * (h // p) * (w // p), c * tp * p * p)[0]
    assert grid == [2, 4, 4]
    assert np.allclose(ours, ref.numpy(), atol=1e-5)


def test_score_a_video_and_an_image(tiny_model_dir, tmp_path):
    from PIL import Image

    from training.scorer.predict import score_items

    video = write_test_video(tmp_path / "clip.mp4", frames=8, fps=8)
    img = tmp_path / "a.png"
    Image.fromarray(np.full((40, 50, 3), 128, np.uint8)).save(img)
    out = score_items(
        tiny_model_dir,
        [{"media": str(video), "prompt": "moving colours"}, {"media": str(img), "prompt": "grey"}],
        batch_size=2,
        overrides={"video_fps": 4.0, "video_max_pixels": 56 * 56, "video_min_pixels": 784},
    )
    assert out[0]["media_type"] == "video" and out[1]["media_type"] == "image"
    for r in out:
        assert 1.0 <= r["quality"] <= 5.0 and 1.0 <= r["alignment"] <= 5.0
