"""Video frames as qwen-vl-utils (which the released inference script uses) chooses them.

qwen-vl-utils imports torchvision at the top of its module, and torchvision cannot be installed beside this
machine's CPU torch; so its pure functions (``smart_nframes``, ``smart_resize`` and the helpers and constants
they use) are taken from the installed package's own source and compared with our port. Where the package
imports in full (a GPU box with torchvision), ``fetch_video`` itself is compared on a real file too.
"""

import ast
import importlib.util
import logging
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.scorer.media import (  # noqa: E402
    load_image,
    load_video,
    qvu_frame_indices,
    qvu_nframes,
    qvu_smart_resize,
    qvu_video_max_pixels,
    write_test_video,
)

PURE = {"round_by_factor", "ceil_by_factor", "floor_by_factor", "smart_resize", "smart_nframes"}


@pytest.fixture(scope="module")
def qvu():
    spec = importlib.util.find_spec("qwen_vl_utils")
    if spec is None:
        pytest.skip("qwen-vl-utils is not installed (pip install qwen-vl-utils==0.0.14; it is in the dev extra)")
    source = Path(spec.submodule_search_locations[0], "vision_process.py").read_text()
    tree = ast.parse(source)

    def constant(n) -> bool:  # NAME = <literal arithmetic or a call of int/float/os.environ.get>
        return (
            isinstance(n, ast.Assign)
            and all(isinstance(t, ast.Name) and t.id.isupper() for t in n.targets)
            and not any(isinstance(x, ast.Name) and x.id.startswith("_") for x in ast.walk(n.value))
            and not isinstance(n.value, ast.Dict)
        )

    keep = [n for n in tree.body if (isinstance(n, ast.FunctionDef) and n.name in PURE) or constant(n)]
    import typing

    ns = {
        "math": math,
        "os": __import__("os"),
        "logger": logging.getLogger("qvu"),
        **{name: getattr(typing, name) for name in ("Optional", "Tuple", "Dict", "Any", "Union", "List")},
    }
    exec(compile(ast.Module(body=keep, type_ignores=[]), "qwen_vl_utils/vision_process.py", "exec"), ns)
    assert PURE <= set(ns)
    return ns


def test_frame_count_rule_equals_qwen_vl_utils(qvu):
    cases = 0
    for total in (1, 2, 3, 5, 8, 16, 47, 120, 240, 241, 1000, 5000):
        for video_fps in (8.0, 12.0, 23.976, 24.0, 30.0, 60.0):
            for ele in ({"fps": 8}, {"fps": 2.0}, {"fps": 8, "max_frames": 64}, {"fps": 4, "min_frames": 6}):
                try:
                    want = qvu["smart_nframes"](dict(ele), total_frames=total, video_fps=video_fps)
                except ValueError:
                    with pytest.raises(ValueError):
                        qvu_nframes(
                            total,
                            video_fps,
                            fps=ele["fps"],
                            min_frames=ele.get("min_frames"),
                            max_frames=ele.get("max_frames"),
                        )
                    continue
                got = qvu_nframes(
                    total, video_fps, fps=ele["fps"], min_frames=ele.get("min_frames"), max_frames=ele.get("max_frames")
                )
                assert got == want, (total, video_fps, ele)
                cases += 1
    assert cases > 200
    # a 10 s clip at 24 fps gives 80 frames at fps 8, as qwen-vl-utils samples (this package's earlier sampler gave 64)
    assert qvu_nframes(240, 24.0, fps=8) == 80
    assert qvu_nframes(7, 8.0, fps=8) == 6  # odd: a frame is dropped, not padded


def test_resize_rule_equals_qwen_vl_utils(qvu):
    for h, w in ((120, 160), (480, 854), (1080, 1920), (17, 300), (64, 64), (28, 5000)):
        for lo, hi in ((128 * 784, 100352), (4 * 784, 16384 * 784), (784, 3136)):
            assert qvu_smart_resize(h, w, factor=28, min_pixels=lo, max_pixels=hi) == qvu["smart_resize"](
                h, w, factor=28, min_pixels=lo, max_pixels=hi
            ), (h, w, lo, hi)
    # fetch_video's cap for long clips (its VIDEO_MAX_TOKEN_NUM and MODEL_SEQ_LEN)
    lo = qvu["VIDEO_MIN_TOKEN_NUM"] * 28 * 28
    total_pixels = qvu["MODEL_SEQ_LEN"] * 28 * 28 * 0.9
    for n in (4, 80, 768, 5000):
        want = min(100352, max(min(qvu["VIDEO_MAX_TOKEN_NUM"] * 784, total_pixels / n * 2), int(lo * 1.05)))
        assert qvu_video_max_pixels(n, factor=28, min_pixels=lo, max_pixels=100352) == want


def test_frame_indices_are_torch_linspace():
    assert qvu_frame_indices(240, 80) == torch.linspace(0, 239, 80).round().long().tolist()
    assert qvu_frame_indices(10, 4) == [0, 3, 6, 9]


def test_load_video_takes_those_frames(tmp_path):
    path = write_test_video(tmp_path / "v.mp4", frames=23, fps=12, width=96, height=72)
    frames = load_video(path, fps=8, max_pixels=56 * 56, min_pixels=28 * 28)
    n = qvu_nframes(23, 12.0, fps=8)
    assert frames.shape[0] == n == 14  # 23/12*8 = 15.3 -> 15 -> 14 (even, dropped not padded)
    # the kept frames are the decoded frames at the linspace indices
    import av

    with av.open(str(path)) as c:
        every = [np.asarray(f.to_image()) for f in c.decode(video=0)]
    idx = qvu_frame_indices(23, n)
    from PIL import Image

    h, w = frames.shape[1:3]
    expect = np.stack([np.asarray(Image.fromarray(every[i]).resize((w, h), Image.BICUBIC)) for i in idx])
    assert np.array_equal(frames, expect)
    legacy = load_video(path, fps=8, max_pixels=56 * 56, min_pixels=28 * 28, sampler="fps")
    assert legacy.shape[0] % 2 == 0 and legacy.shape[0] != frames.shape[0]


def test_one_frame_video_is_fed_twice(tmp_path):
    path = write_test_video(tmp_path / "one.mp4", frames=1, fps=8)
    frames = load_video(path, fps=8, max_pixels=56 * 56, min_pixels=28 * 28)
    assert frames.shape[0] == 2 and np.array_equal(frames[0], frames[1])


def test_image_pre_resize_equals_fetch_image_rule(qvu, tmp_path):
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 130, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png", resize="qwen-vl-utils")
    h, w = qvu["smart_resize"](90, 130, factor=28, min_pixels=4 * 784, max_pixels=16384 * 784)
    assert img.size == (w, h) == (140, 84)
    with Image.open(tmp_path / "a.png") as raw:
        assert np.array_equal(np.asarray(img), np.asarray(raw.convert("RGB").resize((w, h))))
    assert load_image(tmp_path / "a.png").size == (130, 90)  # "processor": left to the processor


def test_fetch_video_itself_where_qwen_vl_utils_imports(tmp_path):
    try:
        from qwen_vl_utils import fetch_video
    except Exception as exc:  # noqa: BLE001 - torchvision missing or broken beside this torch
        pytest.skip(f"qwen_vl_utils does not import here ({type(exc).__name__}: needs torchvision)")
    path = write_test_video(tmp_path / "v.mp4", frames=23, fps=12, width=96, height=72)
    theirs = fetch_video({"video": str(path), "fps": 8, "max_pixels": 56 * 56, "min_pixels": 28 * 28})
    ours = load_video(path, fps=8, max_pixels=56 * 56, min_pixels=28 * 28)
    assert tuple(theirs.shape[:1]) == (ours.shape[0],) and tuple(theirs.shape[2:]) == ours.shape[1:3]
    # pixels differ by the two libraries' bicubic kernels only
    assert np.abs(theirs.permute(0, 2, 3, 1).numpy() - ours.astype(np.float32)).mean() < 8
