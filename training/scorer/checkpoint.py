"""Resumable training checkpoints: what one holds, and saving, finding, loading and pruning them.

``output_dir/checkpoints/step-NNNNNN/`` holds the trainable weights (a LoRA adapter, or the full model), the
processor, ``config.yaml`` and ``scorer.json`` (so :func:`.modeling.load_scorer` scores with it), plus what a
resumed run needs: ``trainer_state.json`` (a :class:`TrainerState`) and ``state/`` (Accelerate's optimizer,
scheduler, RNG and gradient-scaler states; for LoRA only the trainable tensors are stored, see
:func:`keep_only_trainable`). Under DeepSpeed ``state/`` is the engine's own checkpoint.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import ScorerConfig
from .modeling import save_checkpoint_files
from .processing import ScorerProcessor

HISTORY_KEPT = 1000  # loss points a checkpoint carries (the platform thins its curve further)


@dataclass
class TrainerState:
    """Where the loop is: everything a resumed run needs besides the Accelerate states and the config."""

    global_step: int = 0  # optimizer steps taken
    epoch: int = 0  # the epoch in progress; once an epoch ends, the next one
    batches_done_in_epoch: int = 0  # micro-batches of ``epoch`` trained on (a resumed run skips them)
    history: list[dict] = field(default_factory=list)  # the logged step points, oldest first

    @classmethod
    def read(cls, checkpoint_dir: Path) -> TrainerState:
        data = json.loads((Path(checkpoint_dir) / "trainer_state.json").read_text())
        return cls(
            global_step=data["global_step"],
            epoch=data["epoch"],
            batches_done_in_epoch=data["batches_done_in_epoch"],
            history=data.get("history", []),
        )

    def write(self, checkpoint_dir: Path, *, total_steps: int) -> None:
        data = {**asdict(self), "total_steps": total_steps, "history": self.history[-HISTORY_KEPT:]}
        (Path(checkpoint_dir) / "trainer_state.json").write_text(json.dumps(data, indent=1))


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint (one whose trainer_state.json was written), or None."""
    ckpts = sorted((Path(output_dir) / "checkpoints").glob("step-*"))
    ckpts = [c for c in ckpts if (c / "trainer_state.json").exists()]
    return ckpts[-1] if ckpts else None


def keep_only_trainable(accelerator) -> None:
    """Make ``accelerator.save_state`` store only trainable tensors: a LoRA checkpoint of a 7B model is then
    megabytes, not the frozen base again. Loading therefore passes ``strict=False`` (see :func:`checkpoint_load`)."""

    def hook(models, weights, _output_dir):
        for i, m in enumerate(models):
            if i < len(weights):
                names = {n for n, p in m.named_parameters() if p.requires_grad}
                weights[i] = {k: v for k, v in weights[i].items() if k in names}

    accelerator.register_save_state_pre_hook(hook)


def checkpoint_save(
    *,
    accelerator,
    model,
    processor: ScorerProcessor,
    cfg: ScorerConfig,
    level_ids: list[int],
    state: TrainerState,
    total_steps: int,
) -> Path:
    """Write ``step-NNNNNN`` for ``state.global_step`` and prune old ones. Every process calls it (saving the
    Accelerate state, and gathering under DeepSpeed, are collective); the main process writes the files."""
    ckpt = Path(cfg.output_dir) / "checkpoints" / f"step-{state.global_step:06d}"
    accelerator.wait_for_everyone()
    accelerator.save_state(str(ckpt / "state"))
    state_dict = gathered_state_dict(accelerator, model)
    if accelerator.is_main_process:
        save_checkpoint_files(
            ckpt,
            model=accelerator.unwrap_model(model),
            processor=processor,
            cfg=cfg,
            level_ids=level_ids,
            merge=False,
            state_dict=state_dict,
        )
        # written last: a checkpoint without it is incomplete and latest_checkpoint() skips it
        state.write(ckpt, total_steps=total_steps)
        _prune(ckpt.parent, cfg.save_total_limit, keep=ckpt)
    accelerator.wait_for_everyone()
    return ckpt


def checkpoint_load(*, accelerator, checkpoint_dir: Path, deepspeed: bool) -> TrainerState:
    """Restore the prepared model, optimizer, scheduler and RNG states from ``checkpoint_dir``; returns where
    the loop was. Every process calls it."""
    # strict=False: only trainable tensors are saved (keep_only_trainable); a DeepSpeed engine keeps its own
    # whole checkpoint and takes no such argument
    accelerator.load_state(str(Path(checkpoint_dir) / "state"), **({} if deepspeed else {"strict": False}))
    return TrainerState.read(checkpoint_dir)


def gathered_state_dict(accelerator, model):
    """Under DeepSpeed the parameters are sharded: gather them for saving (a collective: every process calls
    it). None elsewhere: the model saves its own."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        return accelerator.get_state_dict(model)
    return None


def _prune(ckpt_root: Path, limit: int | None, keep: Path) -> None:
    """Keep the newest ``limit`` checkpoints, ``keep`` among them. None or 0: keep all."""
    if not limit:
        return
    ckpts = sorted(c for c in ckpt_root.glob("step-*") if c != keep)
    for old in ckpts[: max(0, len(ckpts) - (limit - 1))]:
        shutil.rmtree(old, ignore_errors=True)
