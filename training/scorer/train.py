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
every ``logging_steps`` optimizer steps and at the last one (the losses are means over the micro-batches since
the previous log, on every process), ``{"event": "eval", "step", "total_steps", "epoch", "metrics", "path"}``
after each epoch's evaluation (``metrics`` is the report of :mod:`training.scorer.metrics`),
``{"event": "resumed", "path", "step", "total_steps"}`` first when resuming, and ``{"event": "checkpoint",
"path", "step", "total_steps"}`` / ``{"event": "done", "step", "total_steps", "stopped", "final_dir"}``; only
the main process calls it. Losses and evaluation correlations also go to TensorBoard files under
``output_dir/tensorboard``.

The loop is :class:`ScorerRecipe`, read top to bottom: ``setup`` (data, model, optimizer and schedule,
Accelerate, resume), ``train`` (per epoch: ``step`` on each micro-batch; after each optimizer step the log,
the stop check and the ``save_steps`` checkpoint; at the epoch's end ``evaluate`` and ``save_checkpoint``), and
``finish`` (the final export and the result). Its changing state is explicit: ``recipe.state`` (a
:class:`.checkpoint.TrainerState`, exactly what a checkpoint saves) and the running loss sums.

Host-device syncs: reading a GPU tensor on the host waits for all the GPU work queued before it, so the loop
reads the device only at log steps. Losses are summed on the device and read (and reduced over processes)
every ``logging_steps`` optimizer steps; batches come from pinned memory and are copied without blocking;
``should_stop`` and ``max_train_seconds`` are host-side checks, made after every step in a one-process run
(the platform's). Several processes must stop at the same step (or the next collective hangs), and agreeing
takes a collective read, so they agree at log steps: a multi-process run stops up to ``logging_steps - 1``
steps after the request. (The model's own forward may still sync, e.g. Qwen2-VL reading its image grid sizes.)

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
  installed), and two processes asked to stop stop together at the next log step. Multi-process DeepSpeed
  needs GPUs: Accelerate 1.15 runs CPU DeepSpeed ranks as separate worlds.

Checkpoints (:mod:`.checkpoint`): ``output_dir/checkpoints/step-NNNNNN/`` hold the trainable weights (a LoRA
adapter, or the full model), the processor, ``config.yaml``, ``trainer_state.json`` and ``state/``
(Accelerate's optimizer, scheduler, RNG and gradient-scaler states; for LoRA only the trainable tensors are
stored). One is saved at every epoch's end, every ``save_steps`` steps, and when the run is stopped.
``resume_from`` = such a directory or ``"latest"`` continues at the same step with the same data order.
The final export ``output_dir/final/`` is a plain model directory (LoRA merged when
``merge_lora_on_export``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from .checkpoint import (
    TrainerState,
    checkpoint_load,
    checkpoint_save,
    gathered_state_dict,
    keep_only_trainable,
    latest_checkpoint,
)
from .config import ScorerConfig, save_config
from .data import MediaSettings, RecordDataset, ScorerCollator, loader_workers, read_records, split_batch
from .modeling import answer_logits, load_base_model, prepare_for_training, save_checkpoint_files
from .positions import loader_positions
from .processing import load_processor
from .scoring import LossOutput, level_token_ids, scorer_loss

ProgressCallback = Callable[[dict], None]
StopCallback = Callable[[], bool]
LOGGED = ("loss", "ce", "mse", "lr")  # what a step event, the history and TensorBoard's train/ carry


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


def train(
    config: ScorerConfig,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> TrainResult:
    """Fine-tune the scorer as configured. See the module docstring for the callbacks and outputs."""
    recipe = ScorerRecipe(config, on_progress=on_progress, should_stop=should_stop)
    recipe.setup()
    return recipe.train()


class ScorerRecipe:
    """One training run: ``setup()``, then ``train()`` (which ends with ``finish()``); torchtune's recipe shape.
    Everything set in ``setup`` stays fixed; what changes while training is ``state``, ``losses``, ``metrics``,
    ``last_checkpoint`` and ``stopped``."""

    # Set in setup(), then wrapped by accelerate's prepare().
    model: Any
    optimizer: Any
    scheduler: Any

    def __init__(
        self, cfg: ScorerConfig, *, on_progress: ProgressCallback | None = None, should_stop: StopCallback | None = None
    ):
        self.cfg = cfg
        self.out_dir = Path(cfg.output_dir)
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.state = TrainerState()
        self.metrics: dict = {}  # the last evaluation report
        self.last_checkpoint: Path | None = None
        self.stopped = False

    # --- setup ------------------------------------------------------------------------------------------

    def setup(self) -> None:
        from accelerate import Accelerator
        from accelerate.utils import DataLoaderConfiguration, set_seed

        cfg = self.cfg
        self.accelerator = Accelerator(
            gradient_accumulation_steps=cfg.gradient_accumulation_steps,
            mixed_precision="bf16" if cfg.bf16 else "no",
            # on CUDA batches come from pinned memory (see _epoch_loader), so copying them need not wait for the
            # GPU; other devices keep the blocking copy they always had
            dataloader_config=DataLoaderConfiguration(non_blocking=torch.cuda.is_available()),
        )
        set_seed(cfg.seed)  # before the model: LoRA's initial weights are drawn from it
        self._setup_data()
        self._setup_model()
        self._setup_optimization()
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(
            self.model, self.optimizer, self.scheduler
        )
        keep_only_trainable(self.accelerator)
        self._resume()
        self.losses = RunningLosses(self.accelerator.device)
        self.writer = None  # TensorBoard, main process only
        if self.accelerator.is_main_process:
            from torch.utils.tensorboard import SummaryWriter

            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.out_dir / "config.yaml")
            self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))

    def _setup_data(self) -> None:
        cfg = self.cfg
        if not cfg.data_dir:
            raise ValueError("data_dir is required for training (an sft export directory)")
        records = read_records(cfg.data_dir, cfg.train_split, dimensions=cfg.dimensions, media_types=cfg.media_types)
        if not records:
            raise ValueError(f"no training records in {cfg.data_dir} split {cfg.train_split!r} for {cfg.dimensions}")
        self.dataset = RecordDataset(records)
        self.eval_records: list[dict] = []
        if cfg.eval_split:
            try:
                self.eval_records = read_records(
                    cfg.data_dir, cfg.eval_split, dimensions=cfg.dimensions, media_types=cfg.media_types
                )
            except FileNotFoundError:
                pass

    def _setup_model(self) -> None:
        cfg = self.cfg
        model = load_base_model(cfg.model_name_or_path, cfg)
        self.processor = load_processor(
            cfg.model_name_or_path, model_type=getattr(model.config, "model_type", None), config=cfg
        )
        self.level_ids = level_token_ids(self.processor.tokenizer)
        # on the device once: the loss would otherwise copy the list there (a blocking copy) every micro-batch
        self.level_index = torch.tensor(self.level_ids, dtype=torch.long, device=self.accelerator.device)
        self.model = prepare_for_training(model, cfg)
        self.collator = ScorerCollator(
            self.processor, MediaSettings.from_config(cfg), positions=loader_positions(model)
        )

    def _setup_optimization(self) -> None:
        from transformers import get_scheduler

        cfg, accelerator = self.cfg, self.accelerator
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.trainable, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        per_epoch_batches = math.ceil(len(self.dataset) / (cfg.batch_size * accelerator.num_processes))
        steps_per_epoch = max(1, math.ceil(per_epoch_batches / cfg.gradient_accumulation_steps))
        self.total_steps = cfg.max_steps if cfg.max_steps else steps_per_epoch * cfg.epochs
        self.num_epochs = math.ceil(self.total_steps / steps_per_epoch)
        self.deepspeed = _fill_deepspeed_config(accelerator, cfg)
        # Accelerate steps a prepared scheduler once per process per optimizer step; under DeepSpeed the engine
        # steps it, once per optimizer step
        per_step = 1 if self.deepspeed else accelerator.num_processes
        self.scheduler = get_scheduler(
            cfg.lr_scheduler,
            optimizer=self.optimizer,
            num_warmup_steps=int(cfg.warmup_ratio * self.total_steps) * per_step,
            num_training_steps=self.total_steps * per_step,
        )

    def _resume(self) -> None:
        resume = latest_checkpoint(self.out_dir) if self.cfg.resume_from == "latest" else self.cfg.resume_from
        if not resume:
            return
        self.last_checkpoint = Path(resume)
        self.state = checkpoint_load(
            accelerator=self.accelerator, checkpoint_dir=self.last_checkpoint, deepspeed=self.deepspeed
        )
        self._emit(
            {"event": "resumed", "path": str(resume), "step": self.state.global_step, "total_steps": self.total_steps}
        )

    # --- train ------------------------------------------------------------------------------------------

    def train(self) -> TrainResult:
        self.started = time.monotonic()  # max_train_seconds counts from here
        self.model.train()
        for epoch in range(self.state.epoch, self.num_epochs):
            self.train_epoch(epoch)
            if self.stopped:
                break
            self.evaluate(epoch)
            self.state.epoch, self.state.batches_done_in_epoch = epoch + 1, 0
            self.save_checkpoint()  # resuming from it starts the next epoch
            if self.state.global_step >= self.total_steps:
                break
        return self.finish()

    def train_epoch(self, epoch: int) -> None:
        """The epoch's micro-batches; after each optimizer step: log, stop (with a checkpoint), checkpoint."""
        cfg, state = self.cfg, self.state
        for batch in self._epoch_loader(epoch):
            self.step(batch)
            if not self.accelerator.sync_gradients:
                continue  # accumulating: no optimizer step yet
            state.global_step += 1
            if self._is_log_step():
                self.log_losses()
            if self._stop_requested():
                self.stopped = True
                self.save_checkpoint()
                return
            if cfg.save_steps and state.global_step % cfg.save_steps == 0 and state.global_step < self.total_steps:
                self.save_checkpoint()
            if state.global_step >= self.total_steps:
                return

    def step(self, batch: dict) -> None:
        """One micro-batch: forward, loss, backward; the optimizer steps when the accumulation is complete
        (Accelerate's ``accumulate`` makes the optimizer and scheduler calls no-ops before that)."""
        cfg, accelerator = self.cfg, self.accelerator
        model_inputs, labels = split_batch(batch)
        with accelerator.accumulate(self.model):
            out = scorer_loss(
                answer_logits(self.model, model_inputs),
                self.level_index,
                labels["target_level"],
                labels["mos"],
                ce_weight=cfg.ce_weight,
                mse_weight=cfg.mse_weight,
                ce_over=cfg.ce_over,
                mse_scale=cfg.mse_scale,
            )
            accelerator.backward(out.loss)
            if accelerator.sync_gradients and cfg.max_grad_norm:
                accelerator.clip_grad_norm_(self.trainable, cfg.max_grad_norm)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad()
        self.state.batches_done_in_epoch += 1
        self.losses.add(out)

    def log_losses(self) -> None:
        """The mean losses since the last log (the one device read of the loop) to the history, TensorBoard and
        a "step" event."""
        state = self.state
        loss, ce, mse = self.losses.pop_means(self.accelerator)
        event = {
            "event": "step",
            "step": state.global_step,
            "total_steps": self.total_steps,
            "epoch": state.epoch,
            "loss": loss,
            "ce": ce,
            "mse": mse,
            "lr": self.scheduler.get_last_lr()[0],
        }
        state.history.append({k: event[k] for k in ("step", "epoch", *LOGGED)})
        if self.writer:
            for k in LOGGED:
                self.writer.add_scalar(f"train/{k}", event[k], state.global_step)
        self._emit(event)

    def evaluate(self, epoch: int) -> None:
        """Score the eval split with the model as it is now (every process scores its share); the report goes
        to ``output_dir/eval/epoch-NNN``, TensorBoard and an "eval" event."""
        if not self.eval_records:
            return
        from .predict import evaluate_records

        eval_dir = self.out_dir / "eval" / f"epoch-{epoch:03d}"
        self.model.eval()
        self.metrics = evaluate_records(
            model=self.model,
            processor=self.processor,
            level_ids=self.level_ids,
            records=self.eval_records,
            cfg=self.cfg,
            out_dir=eval_dir,
            accelerator=self.accelerator,
        )
        self.model.train()
        if self.writer:
            _log_metrics(self.writer, self.metrics, self.state.global_step)
        self._emit(
            {
                "event": "eval",
                "step": self.state.global_step,
                "total_steps": self.total_steps,
                "epoch": epoch,
                "metrics": self.metrics,
                "path": str(eval_dir),
            }
        )

    def save_checkpoint(self) -> None:
        self.last_checkpoint = checkpoint_save(
            accelerator=self.accelerator,
            model=self.model,
            processor=self.processor,
            cfg=self.cfg,
            level_ids=self.level_ids,
            state=self.state,
            total_steps=self.total_steps,
        )
        self._emit(
            {
                "event": "checkpoint",
                "path": str(self.last_checkpoint),
                "step": self.state.global_step,
                "total_steps": self.total_steps,
            }
        )

    # --- finish -----------------------------------------------------------------------------------------

    def finish(self) -> TrainResult:
        """The final export (unless stopped early), the result and a "done" event; frees the model."""
        final_dir = None if self.stopped else self._export_final()
        if self.writer:
            self.writer.close()
        state = self.state
        result = TrainResult(
            output_dir=self.out_dir,
            final_dir=final_dir,
            checkpoint_dir=self.last_checkpoint,
            global_step=state.global_step,
            total_steps=self.total_steps,
            epochs_completed=state.epoch,
            stopped=self.stopped,
            metrics=self.metrics,
            history=state.history,
        )
        self._emit(
            {
                "event": "done",
                "step": state.global_step,
                "total_steps": self.total_steps,
                "stopped": self.stopped,
                "final_dir": str(final_dir) if final_dir else None,
            }
        )
        self.model, self.optimizer, self.scheduler = self.accelerator.free_memory(
            self.model, self.optimizer, self.scheduler
        )
        return result

    def _export_final(self) -> Path:
        final_dir = self.out_dir / "final"
        self.accelerator.wait_for_everyone()
        state_dict = gathered_state_dict(self.accelerator, self.model)  # collective under DeepSpeed
        if self.accelerator.is_main_process:
            save_checkpoint_files(
                final_dir,
                model=self.accelerator.unwrap_model(self.model),
                processor=self.processor,
                cfg=self.cfg,
                level_ids=self.level_ids,
                merge=self.cfg.merge_lora_on_export,
                state_dict=state_dict,
                extra={"global_step": self.state.global_step, "metrics": self.metrics},
            )
        self.accelerator.wait_for_everyone()
        return final_dir

    # --- helpers ----------------------------------------------------------------------------------------

    def _epoch_loader(self, epoch: int):
        """The epoch's batches in an order fixed by (seed, epoch), so a resumed run sees the same data; in the
        epoch a run resumes in, the micro-batches already trained on are skipped."""
        cfg, accelerator = self.cfg, self.accelerator
        order = np.random.default_rng(cfg.seed + 1000 * epoch).permutation(len(self.dataset)).tolist()
        # own generator: iterating must not draw from the global RNG, or a resumed run would diverge
        loader = DataLoader(
            Subset(self.dataset, order),
            batch_size=cfg.batch_size,
            shuffle=False,
            collate_fn=self.collator,
            num_workers=loader_workers(cfg.num_workers, accelerator.device),
            pin_memory=accelerator.device.type == "cuda",
            generator=torch.Generator().manual_seed(cfg.seed + epoch),
        )
        loader = accelerator.prepare_data_loader(loader)
        if self.state.batches_done_in_epoch:
            loader = accelerator.skip_first_batches(loader, self.state.batches_done_in_epoch)
        return loader

    def _is_log_step(self) -> bool:
        step = self.state.global_step
        return step % max(1, self.cfg.logging_steps) == 0 or step == self.total_steps

    def _stop_requested(self) -> bool:
        """should_stop() or the time bound, both host-side. One process acts at once, without touching the device;
        several must agree, which takes a collective read, so they agree at log steps only."""
        if self.accelerator.num_processes > 1 and not self._is_log_step():
            return False
        out_of_time = (
            self.cfg.max_train_seconds is not None and time.monotonic() - self.started > self.cfg.max_train_seconds
        )
        wanted = out_of_time or bool(self.should_stop and self.should_stop())
        if self.accelerator.num_processes == 1:
            return wanted
        flag = torch.tensor(float(wanted), device=self.accelerator.device)
        return self.accelerator.reduce(flag, reduction="sum").item() > 0

    def _emit(self, event: dict) -> None:
        if self.on_progress is not None and self.accelerator.is_main_process:
            self.on_progress(event)


class RunningLosses:
    """Sums of loss, CE and MSE, and the micro-batch count, since the last log, kept on the device: adding is a
    queued kernel, not a read. Float64, so the means are those of the float32 values summed exactly as before."""

    def __init__(self, device: torch.device):
        self.sums = torch.zeros(4, dtype=torch.float64, device=device)

    def add(self, out: LossOutput) -> None:
        self.sums[:3] += torch.stack([out.loss.detach(), out.ce, out.mse]).double()
        self.sums[3] += 1

    def pop_means(self, accelerator) -> tuple[float, float, float]:
        """The means over every process's micro-batches (the logged loss is the global batch's), then reset.
        This is the read: it waits for the device."""
        sums = accelerator.reduce(self.sums, reduction="sum") if accelerator.num_processes > 1 else self.sums
        loss, ce, mse, n = sums.tolist()
        self.sums = torch.zeros_like(self.sums)
        n = max(1.0, n)
        return loss / n, ce / n, mse / n


def _fill_deepspeed_config(accelerator, cfg: ScorerConfig) -> bool:
    """Under DeepSpeed, give its config what it would otherwise read from a prepared DataLoader or its own
    settings: the loader is prepared per epoch (for resumable ordering), so ``prepare`` never sees a batch
    size. Values the user's DeepSpeed config sets are kept; "auto" and missing ones come from ``cfg``.
    True when DeepSpeed is in use."""
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is None:
        return False
    ds = plugin.deepspeed_config
    for key, value in (
        ("train_micro_batch_size_per_gpu", cfg.batch_size),
        ("gradient_clipping", float(cfg.max_grad_norm or 0.0)),
    ):
        if ds.get(key, "auto") == "auto":
            ds[key] = value
    if ds.get("train_batch_size", "auto") == "auto":
        ds["train_batch_size"] = cfg.batch_size * cfg.gradient_accumulation_steps * accelerator.num_processes
    return True


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
