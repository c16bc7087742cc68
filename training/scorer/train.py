"""Fine-tuning loop on Accelerate: one code path for one GPU, many GPUs, DeepSpeed, or the CPU.

Public API (the platform's Celery task calls it in-process)::

    from training.scorer.config import load_config
    from training.scorer.train import train, TrainResult

    result: TrainResult = train(
        config,                                   # ScorerConfig
        on_progress=lambda event: ...,            # optional; dicts, see below
        should_stop=lambda: False,                # optional; True -> save a checkpoint and stop cleanly
    )
    result.final_dir      # exported model (LoRA merged), loadable by predict/score_items
    result.checkpoint_dir # last resumable checkpoint
    result.metrics        # last evaluation report (or {})

``on_progress`` receives ``{"event": "step", "step", "total_steps", "epoch", "loss", "ce", "mse", "lr"}``
every ``logging_steps`` optimizer steps, ``{"event": "eval", "step", "total_steps", "epoch", "metrics"}``
after each epoch's evaluation (``metrics`` is the report of :mod:`training.scorer.metrics`), and
``{"event": "checkpoint", "path", "step"}`` / ``{"event": "done", ...}``. Losses also go to TensorBoard
files under ``output_dir/tensorboard``.

Launching:

* one device: ``python -m training.scorer train --config cfg.yaml [key=value ...]``
* several GPUs: ``accelerate launch --num_processes 8 -m training.scorer train --config cfg.yaml``
* DeepSpeed ZeRO: ``accelerate launch --config_file zero2.yaml -m training.scorer train --config cfg.yaml``
  where ``zero2.yaml`` is an ordinary accelerate config (``distributed_type: DEEPSPEED``,
  ``deepspeed_config: {zero_stage: 2, ...}``); nothing in this module changes. ZeRO-2 is the intended
  stage (LoRA states are small); step checkpoints gather the state dict under DeepSpeed, but the final LoRA
  merge assumes unsharded parameters: under ZeRO-3 set ``merge_lora_on_export=false`` (the adapter
  checkpoints stay loadable by ``load_scorer``). The batch size and clipping reach DeepSpeed's config from
  ``cfg`` where it says "auto" (the loader is prepared per epoch, so ``prepare`` never sees it).
  Tested on the CPU: two torchrun processes (gloo; ``ACCELERATE_USE_CPU=true``, as Accelerate's multi-CPU mode
  needs) train exactly like one with the whole batch, and ZeRO-2 in one process trains and resumes exactly like
  plain training (``tests/scorer/test_multi_process.py``, ``test_deepspeed.py``; the latter where deepspeed is
  installed). Multi-process DeepSpeed needs GPUs: Accelerate 1.15 runs CPU DeepSpeed ranks as separate worlds.

Checkpoints: ``output_dir/checkpoints/step-NNNNNN/`` hold the trainable weights (a LoRA adapter, or the
full model), the processor, ``config.yaml``, ``trainer_state.json`` and ``state/`` (Accelerate's
optimizer, scheduler, RNG and gradient-scaler states; for LoRA only the trainable tensors are stored).
``resume_from`` = such a directory or ``"latest"`` continues at the same step with the same data order.
The final export ``output_dir/final/`` is a plain model directory (LoRA merged when
``merge_lora_on_export``).
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from .config import ScorerConfig, save_config
from .data import MediaSettings, RecordDataset, ScorerCollator, read_records, split_batch
from .modeling import answer_logits, load_base_model, prepare_for_training, save_checkpoint_files
from .processing import load_processor
from .scoring import level_token_ids, scorer_loss

ProgressCallback = Callable[[dict], None]
StopCallback = Callable[[], bool]


@dataclass
class TrainResult:
    output_dir: Path
    final_dir: Path | None
    checkpoint_dir: Path | None
    global_step: int
    total_steps: int
    epochs_completed: int
    stopped: bool = False  # should_stop or max_train_seconds ended the run early
    metrics: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)


def _epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    return np.random.default_rng(seed + 1000 * epoch).permutation(n).tolist()


def _latest_checkpoint(output_dir: Path) -> Path | None:
    ckpts = sorted((output_dir / "checkpoints").glob("step-*"))
    ckpts = [c for c in ckpts if (c / "trainer_state.json").exists()]
    return ckpts[-1] if ckpts else None


def train(
    config: ScorerConfig,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> TrainResult:
    """Fine-tune the scorer as configured. See the module docstring for the callbacks and outputs."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import get_scheduler

    cfg = config
    out_dir = Path(cfg.output_dir)
    accelerator = Accelerator(
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        mixed_precision="bf16" if cfg.bf16 else "no",
    )
    set_seed(cfg.seed)
    emit = _emitter(accelerator, on_progress)

    # --- data ---
    if not cfg.data_dir:
        raise ValueError("data_dir is required for training (an sft export directory)")
    train_records = read_records(cfg.data_dir, cfg.train_split, dimensions=cfg.dimensions, media_types=cfg.media_types)
    if not train_records:
        raise ValueError(f"no training records in {cfg.data_dir} split {cfg.train_split!r} for {cfg.dimensions}")
    eval_records = []
    if cfg.eval_split:
        try:
            eval_records = read_records(cfg.data_dir, cfg.eval_split, dimensions=cfg.dimensions, media_types=cfg.media_types)
        except FileNotFoundError:
            eval_records = []

    # --- model ---
    model = load_base_model(cfg.model_name_or_path, cfg)
    processor = load_processor(cfg.model_name_or_path, model_type=getattr(model.config, "model_type", None), config=cfg)
    level_ids = level_token_ids(processor.tokenizer)
    model = prepare_for_training(model, cfg)
    collator = ScorerCollator(processor, MediaSettings.from_config(cfg))

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)

    dataset = RecordDataset(train_records)
    per_epoch_batches = math.ceil(len(dataset) / (cfg.batch_size * accelerator.num_processes))
    steps_per_epoch = max(1, math.ceil(per_epoch_batches / cfg.gradient_accumulation_steps))
    total_steps = cfg.max_steps if cfg.max_steps else steps_per_epoch * cfg.epochs
    num_epochs = math.ceil(total_steps / steps_per_epoch)
    deepspeed = _fill_deepspeed_config(accelerator, cfg)
    # Accelerate steps a prepared scheduler once per process per optimizer step; under DeepSpeed the engine
    # steps it, once per optimizer step
    scheduler_steps_per_step = 1 if deepspeed else accelerator.num_processes
    scheduler = get_scheduler(
        cfg.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=int(cfg.warmup_ratio * total_steps) * scheduler_steps_per_step,
        num_training_steps=total_steps * scheduler_steps_per_step,
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    def _only_trainable(models, weights, _output_dir):
        for i, m in enumerate(models):
            if i < len(weights):
                names = {n for n, p in m.named_parameters() if p.requires_grad}
                weights[i] = {k: v for k, v in weights[i].items() if k in names}

    accelerator.register_save_state_pre_hook(_only_trainable)

    # --- resume ---
    global_step, start_epoch, skip_batches = 0, 0, 0
    history: list[dict] = []
    resume = cfg.resume_from
    if resume == "latest":
        resume = _latest_checkpoint(out_dir)
    if resume:
        resume = Path(resume)
        # strict=False: only trainable tensors are saved (see _only_trainable); a DeepSpeed engine keeps its own
        # whole checkpoint and takes no such argument
        accelerator.load_state(str(resume / "state"), **({} if deepspeed else {"strict": False}))
        state = json.loads((resume / "trainer_state.json").read_text())
        global_step, start_epoch = state["global_step"], state["epoch"]
        skip_batches = state["batches_done_in_epoch"]
        history = state.get("history", [])
        emit({"event": "resumed", "path": str(resume), "step": global_step, "total_steps": total_steps})

    writer = None
    if accelerator.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out_dir / "config.yaml")
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out_dir / "tensorboard"))

    def save_checkpoint(epoch: int, batches_done: int) -> Path:
        ckpt = out_dir / "checkpoints" / f"step-{global_step:06d}"
        accelerator.wait_for_everyone()
        accelerator.save_state(str(ckpt / "state"))
        state_dict = _gathered_state_dict(accelerator, model)  # collective under DeepSpeed: all ranks call it
        if accelerator.is_main_process:
            save_checkpoint_files(ckpt, model=accelerator.unwrap_model(model), processor=processor, cfg=cfg,
                                  level_ids=level_ids, merge=False, state_dict=state_dict)
            (ckpt / "trainer_state.json").write_text(json.dumps({
                "global_step": global_step, "total_steps": total_steps, "epoch": epoch,
                "batches_done_in_epoch": batches_done, "history": history[-1000:],
            }, indent=1))
            _prune(out_dir / "checkpoints", cfg.save_total_limit, keep=ckpt)
        accelerator.wait_for_everyone()
        emit({"event": "checkpoint", "path": str(ckpt), "step": global_step, "total_steps": total_steps})
        return ckpt

    started = time.monotonic()
    stopped = False
    last_ckpt: Path | None = Path(resume) if resume else None
    metrics: dict = {}
    epoch = start_epoch
    running = {"loss": 0.0, "ce": 0.0, "mse": 0.0, "n": 0}
    model.train()
    for epoch in range(start_epoch, num_epochs):
        order = _epoch_order(len(dataset), cfg.seed, epoch)
        # own generator: iterating must not draw from the global RNG, or a resumed run would diverge
        loader = DataLoader(Subset(dataset, order), batch_size=cfg.batch_size, shuffle=False,
                            collate_fn=collator, num_workers=cfg.num_workers,
                            generator=torch.Generator().manual_seed(cfg.seed + epoch))
        loader = accelerator.prepare_data_loader(loader)
        batches_done = 0
        if epoch == start_epoch and skip_batches:
            loader = accelerator.skip_first_batches(loader, skip_batches)
            batches_done = skip_batches
        for batch in loader:
            model_inputs, labels = split_batch(batch)
            with accelerator.accumulate(model):
                logits = answer_logits(model, model_inputs)
                out = scorer_loss(logits, level_ids, labels["target_level"], labels["mos"],
                                  ce_weight=cfg.ce_weight, mse_weight=cfg.mse_weight,
                                  ce_over=cfg.ce_over, mse_scale=cfg.mse_scale)
                accelerator.backward(out.loss)
                if accelerator.sync_gradients and cfg.max_grad_norm:
                    accelerator.clip_grad_norm_(trainable, cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            batches_done += 1
            running["loss"] += float(out.loss.detach())
            running["ce"] += float(out.ce)
            running["mse"] += float(out.mse)
            running["n"] += 1
            if not accelerator.sync_gradients:
                continue
            global_step += 1
            if global_step % max(1, cfg.logging_steps) == 0 or global_step == total_steps:
                # every process's batches, not only the main one's: the logged loss is the global batch's
                sums = torch.tensor([running[k] for k in ("loss", "ce", "mse", "n")], dtype=torch.float64,
                                    device=accelerator.device)
                if accelerator.num_processes > 1:
                    sums = accelerator.reduce(sums, reduction="sum")
                loss_sum, ce_sum, mse_sum, n = sums.tolist()
                n = max(1.0, n)
                event = {"event": "step", "step": global_step, "total_steps": total_steps, "epoch": epoch,
                         "loss": loss_sum / n, "ce": ce_sum / n, "mse": mse_sum / n,
                         "lr": scheduler.get_last_lr()[0]}
                running = {"loss": 0.0, "ce": 0.0, "mse": 0.0, "n": 0}
                history.append({k: event[k] for k in ("step", "epoch", "loss", "ce", "mse", "lr")})
                if writer:
                    for k in ("loss", "ce", "mse", "lr"):
                        writer.add_scalar(f"train/{k}", event[k], global_step)
                emit(event)
            out_of_time = cfg.max_train_seconds is not None and time.monotonic() - started > cfg.max_train_seconds
            stop_now = bool(should_stop and should_stop()) or out_of_time
            if stop_now:
                stop_flag = torch.tensor(1.0, device=accelerator.device)
            else:
                stop_flag = torch.tensor(0.0, device=accelerator.device)
            if accelerator.num_processes > 1:
                stop_flag = accelerator.reduce(stop_flag, reduction="sum")
            if stop_flag.item() > 0:
                stopped = True
                last_ckpt = save_checkpoint(epoch, batches_done)
                break
            if cfg.save_steps and global_step % cfg.save_steps == 0 and global_step < total_steps:
                last_ckpt = save_checkpoint(epoch, batches_done)
            if global_step >= total_steps:
                break
        if stopped:
            break
        # end of epoch: evaluate, checkpoint (resuming from it starts the next epoch)
        if eval_records:
            from .predict import evaluate_records

            model.eval()
            eval_dir = out_dir / "eval" / f"epoch-{epoch:03d}"
            metrics = evaluate_records(
                model=model, processor=processor, level_ids=level_ids, records=eval_records, cfg=cfg,
                out_dir=eval_dir, accelerator=accelerator,
            )
            model.train()
            if writer:
                _log_metrics(writer, metrics, global_step)
            emit({"event": "eval", "step": global_step, "total_steps": total_steps, "epoch": epoch,
                  "metrics": metrics, "path": str(eval_dir)})
        global_step_before = global_step
        last_ckpt = save_checkpoint(epoch + 1, 0)
        if global_step_before >= total_steps:
            break

    final_dir = None
    if not stopped:
        final_dir = out_dir / "final"
        accelerator.wait_for_everyone()
        state_dict = _gathered_state_dict(accelerator, model)
        if accelerator.is_main_process:
            save_checkpoint_files(final_dir, model=accelerator.unwrap_model(model), processor=processor, cfg=cfg,
                                  level_ids=level_ids, merge=cfg.merge_lora_on_export, state_dict=state_dict,
                                  extra={"global_step": global_step, "metrics": metrics})
        accelerator.wait_for_everyone()
    if writer:
        writer.close()
    result = TrainResult(output_dir=out_dir, final_dir=final_dir, checkpoint_dir=last_ckpt, global_step=global_step,
                         total_steps=total_steps, epochs_completed=epoch + (0 if stopped else 1), stopped=stopped,
                         metrics=metrics, history=history)
    emit({"event": "done", "step": global_step, "total_steps": total_steps, "stopped": stopped,
          "final_dir": str(final_dir) if final_dir else None})
    accelerator.free_memory()
    return result


def _fill_deepspeed_config(accelerator, cfg: ScorerConfig) -> bool:
    """Under DeepSpeed, give its config what it would otherwise read from a prepared DataLoader or its own
    settings: the loader is prepared per epoch (for resumable ordering), so ``prepare`` never sees a batch
    size. Values the user's DeepSpeed config sets are kept; "auto" and missing ones come from ``cfg``.
    True when DeepSpeed is in use."""
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is None:
        return False
    ds = plugin.deepspeed_config
    for key, value in (("train_micro_batch_size_per_gpu", cfg.batch_size),
                       ("gradient_clipping", float(cfg.max_grad_norm or 0.0))):
        if ds.get(key, "auto") == "auto":
            ds[key] = value
    if ds.get("train_batch_size", "auto") == "auto":
        ds["train_batch_size"] = cfg.batch_size * cfg.gradient_accumulation_steps * accelerator.num_processes
    return True


def _gathered_state_dict(accelerator, model):
    """Under DeepSpeed the parameters are sharded: gather them for saving. None elsewhere."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        return accelerator.get_state_dict(model)
    return None


def _emitter(accelerator, on_progress):
    def emit(event: dict) -> None:
        if on_progress is not None and accelerator.is_main_process:
            on_progress(event)

    return emit


def _log_metrics(writer, report: dict, step: int) -> None:
    for dim, by_media in report.items():
        if dim.startswith("_") or not isinstance(by_media, dict):
            continue
        for media, levels in by_media.items():
            if media == "long_prompt" or not isinstance(levels, dict):
                continue
            for level, vals in levels.items():
                for k in ("srcc", "plcc"):
                    if isinstance(vals, dict) and vals.get(k) is not None:
                        writer.add_scalar(f"eval/{dim}/{media}/{level}_{k}", vals[k], step)


def _prune(ckpt_root: Path, limit: int | None, keep: Path) -> None:
    if not limit:
        return
    ckpts = sorted(c for c in ckpt_root.glob("step-*") if c != keep)
    for old in ckpts[: max(0, len(ckpts) - (limit - 1))]:
        shutil.rmtree(old, ignore_errors=True)
