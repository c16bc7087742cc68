"""Data-parallel training is the same training: two processes with half the batch each (torchrun, gloo on
the CPU) give the logged losses and the evaluation predictions of one process with the whole batch. That
covers what a multi-GPU launch changes: sharded batches, averaged gradients, the scheduler stepped per
process, losses reduced over processes for the log, gathered evaluation, checkpoints written by rank 0."""

import pytest


def test_two_processes_with_half_batches_train_like_one_process(launch_training, last_eval_predictions):
    pytest.importorskip("torch.distributed")
    one_steps, one = launch_training("one", batch_size=4)
    # ACCELERATE_USE_CPU: Accelerate picks its multi-CPU (gloo) mode only when told to use the CPU
    two_steps, two = launch_training("two", processes=2, env={"ACCELERATE_USE_CPU": "true"}, batch_size=2)

    assert [e["step"] for e in two_steps] == [e["step"] for e in one_steps] and len(one_steps) >= 4
    for a, b in zip(one_steps, two_steps):
        for k in ("loss", "ce", "mse", "lr"):
            assert b[k] == pytest.approx(a[k], rel=1e-5, abs=1e-6), (a["step"], k)
    p1, p2 = last_eval_predictions(one), last_eval_predictions(two)
    assert list(p1.item_id) == list(p2.item_id) and len(p1) > 0
    assert (p1.prediction - p2.prediction).abs().max() < 1e-4
    assert (two / "final" / "config.json").is_file() and (two / "final" / "scorer.json").is_file()


def test_two_processes_stop_together_at_the_next_log_step(launch_training):
    """Processes must stop at the same step, and agreeing is a collective read of the device: they agree at log
    steps only, not after every step. Asked to stop from the first step on (the time bound), two processes
    logging every 3 steps stop at step 3 together, with a checkpoint that resumes mid-epoch."""
    import json

    pytest.importorskip("torch.distributed")
    steps, out = launch_training(
        "two_stopped",
        processes=2,
        env={"ACCELERATE_USE_CPU": "true"},
        batch_size=2,
        logging_steps=3,
        max_train_seconds=0,
        eval_split=None,
    )
    assert [e["step"] for e in steps] == [3]
    assert not (out / "final").exists()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-000002", "step-000003"]
    state = json.loads((out / "checkpoints" / "step-000003" / "trainer_state.json").read_text())
    # 8 records, 2 per process per micro-batch: 2 steps an epoch, so step 3 is epoch 1's first
    assert (state["global_step"], state["epoch"], state["batches_done_in_epoch"]) == (3, 1, 1)
