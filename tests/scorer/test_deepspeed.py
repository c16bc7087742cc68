"""DeepSpeed ZeRO-2 through Accelerate, the way a multi-GPU launch turns it on, here in one CPU process:
it trains exactly as without DeepSpeed (same logged losses, learning rates and predictions: the batch size and
clipping reach DeepSpeed's config, and the engine steps the schedule once per step), and a run stopped after
one step resumes from its DeepSpeed checkpoint to the same result. ``.ci/run`` installs deepspeed, so CI runs
this; elsewhere it skips unless deepspeed is installed (it is not in the project's extras: its install imports
torch): ``.venv/bin/pip install --no-build-isolation deepspeed==0.19.8``, then ``pytest tests/scorer/test_deepspeed.py``."""

import pytest

pytest.importorskip("deepspeed", reason="deepspeed is not installed (see this file's docstring)")

ZERO2 = {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"}


def test_zero2_trains_like_plain_training_and_resumes(launch_training, last_eval_predictions):
    plain_steps, plain = launch_training("plain")
    ds_steps, ds = launch_training("zero2", env=ZERO2)
    assert [e["step"] for e in ds_steps] == [e["step"] for e in plain_steps] and len(plain_steps) >= 4
    for a, b in zip(plain_steps, ds_steps):
        for k in ("loss", "lr"):
            assert b[k] == pytest.approx(a[k], rel=1e-5, abs=1e-7), (a["step"], k)
    ref = last_eval_predictions(plain)
    assert (last_eval_predictions(ds).prediction - ref.prediction).abs().max() < 1e-4
    assert (ds / "final" / "scorer.json").is_file()

    # stopped by the time bound after its first step, then resumed from the DeepSpeed checkpoint
    _, resumed = launch_training("zero2_resumed", env=ZERO2, max_train_seconds=0)
    assert not (resumed / "final").exists()
    launch_training("zero2_resumed", env=ZERO2, resume_from="latest")
    assert (last_eval_predictions(resumed).prediction - ref.prediction).abs().max() < 1e-4
