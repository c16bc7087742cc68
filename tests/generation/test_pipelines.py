"""The Django-free pipelines package: run specs, and the tiny pipelines drawing real (noise) images and videos through
the same load/generate code a GPU worker runs, on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers")

from generation.pipelines.runner import generate_batch, load_pipeline, unload  # noqa: E402
from generation.pipelines.spec import SpecError, build_spec, parse_params  # noqa: E402


def test_a_spec_resolves_the_defaults_of_its_media_type():
    spec = build_spec(model="stabilityai/sdxl", params=parse_params(["steps=40", "call.eta=0.5"]))
    assert (spec.media_type, spec.steps, spec.width, spec.height, spec.batch_size) == ("image", 40, 512, 512, 4)
    assert spec.pipeline_kwargs() == {
        "num_inference_steps": 40,
        "guidance_scale": 7.5,
        "width": 512,
        "height": 512,
        "eta": 0.5,
    }
    video = build_spec(model="/models/t2v", params={"pipeline_class": "WanPipeline", "num_frames": "33"})
    assert (video.media_type, video.num_frames, video.fps, video.batch_size) == ("video", 33, 8, 1)


@pytest.mark.parametrize(
    "pairs, message",
    [
        (["steps=0"], "steps must be between 1 and 1000"),
        (["width=500"], "multiple of 8"),
        (["colour=red"], "unknown parameter 'colour'"),
        (["call.generator=1"], "cannot be set"),
        (["dtype=int8"], "dtype must be one of"),
        (["num_frames=16"], "num_frames and fps are for video generators"),
        (["pipeline_class=not a class"], "pipeline_class must be a diffusers class name"),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(pairs, message):
    with pytest.raises(SpecError, match=message):
        build_spec(model="some/model", params=parse_params(pairs))


def test_tiny_model_names_are_reserved():
    with pytest.raises(SpecError, match="reserved"):
        build_spec(model="tiny:image")


@pytest.mark.parametrize("kind", ["image", "video"])
def test_tiny_pipelines_draw_noise_and_each_output_depends_on_its_own_seed(kind, tmp_path):
    spec = build_spec(model="", tiny=kind)
    loaded = load_pipeline(spec, tiny_root=tmp_path / "models", device="cpu")
    assert (tmp_path / "models" / f"tiny-{kind}-v1" / "model_index.json").exists()
    outs = generate_batch(loaded, spec, ["a red cube", "a cat on a sofa", "a red cube"], [0, 1, 2])
    pixels = [np.asarray(o.image if kind == "image" else o.frames, dtype=float) for o in outs]
    shape = (32, 32, 3) if kind == "image" else (4, 32, 32, 3)
    assert all(p.shape == shape for p in pixels)
    assert all(p.std() > 10 for p in pixels)  # noise, not a flat image
    assert np.abs(pixels[0] - pixels[2]).mean() > 5  # same prompt, other seed: other output
    alone = generate_batch(loaded, spec, ["a cat on a sofa"], [1])[0]
    again = np.asarray(alone.image if kind == "image" else alone.frames, dtype=float)
    assert np.abs(again - pixels[1]).max() <= 2  # the batch it shared does not change an output
    path = outs[0].write(tmp_path, "out", fps=spec.fps)
    assert path.suffix == (".png" if kind == "image" else ".mp4") and path.stat().st_size > 500
    unload()


def test_written_videos_are_real_h264_mp4s(tmp_path):
    import av

    from generation.pipelines.media import write_mp4

    frames = np.random.default_rng(0).random((6, 24, 40, 3))
    path = write_mp4(frames, tmp_path / "v.mp4", fps=6)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
        assert (stream.codec_context.name, len(decoded), decoded[0].width, decoded[0].height) == ("h264", 6, 40, 24)
        assert float(stream.average_rate) == 6
