#!/usr/bin/env bash
# The GPU figures in one run, for a session lent a GPU machine (README, "GPU figures"). Two modes:
#
#   bash benchmarks/gpu_session.sh fetch-wheels   # on the development machine, BEFORE the GPU run: downloads into
#                                                 # .whl/ (git-ignored) the pinned packages the GPU image lacks or
#                                                 # has at other versions (diffusers, transformers, ...)
#   bash benchmarks/gpu_session.sh                # on the GPU machine, from the repository root, with .whl carried
#
# PYTHON=... picks the interpreter; GPU_SESSION_SMOKE=1 runs both benchmarks' --smoke modes on the CPU at tiny sizes
# (tests/scorer/test_gpu_session_script.py), which checks this script's plumbing, not a GPU.
#
# The run: the scorer benchmark (full-size Qwen2-VL-7B, random weights, bf16: batched scoring with and without
# size grouping, the one-at-a-time loop, LoRA training, peak memory) then the generation benchmark (full-size
# SD 1.5 and ModelScope text-to-video, fp16). About 3 minutes on one H200 (it ran there on 2026-11-30); each step
# has its own time limit (320 s, 220 s), so the whole run fits one 600 s device call, and
# a failing step does not stop the next. Everything goes to $OUT when it is set (the
# device tool's folder that comes back), else to benchmarks/out/gpu-session-<time>/: env.txt (machine and
# versions), scorer_gpu_throughput.{json,log}, generation_gpu.{json,log} and summary.md (the README rows).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PINS=(diffusers==0.42.1 transformers==5.24.0 tokenizers==0.23.3 peft==0.21.2 accelerate==1.15.0 importlib_metadata==10.2.0)

if [ "${1:-}" = "fetch-wheels" ]; then
  # the GPU image has Python 3.12 and no way to fetch anything: wheels for it, no dependencies (it has the rest)
  mkdir -p .whl
  PY=python3
  [ -x .venv/bin/python ] && PY=.venv/bin/python
  exec "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${PINS[@]}"
fi

OUT_DIR=${OUT:-$ROOT/benchmarks/out/gpu-session-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT_DIR"
export PYTHONPATH="$ROOT:$ROOT/platform" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PY=${PYTHON:-python3}  # the GPU image's python3 holds its CUDA torch; a project venv with CUDA wins over it
if [ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ] \
  && .venv/bin/python -c 'import torch,sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
  PY=.venv/bin/python
fi
# GPU_SESSION_SMOKE=1: both benchmarks in their --smoke mode at tiny sizes, on the CPU (this script's own test)
SMOKE=()
[ "${GPU_SESSION_SMOKE:-0}" = 1 ] && SMOKE=(--smoke)
if [ ${#SMOKE[@]} -eq 0 ] && compgen -G ".whl/*.whl" >/dev/null; then
  # carried wheels go before the image's own packages: the pinned versions the tests ran with
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "python: $PY ($("$PY" -V 2>&1))"
  "$PY" - <<'EOF'
import importlib, importlib.util
for name in ("torch", "transformers", "tokenizers", "peft", "accelerate", "diffusers", "flash_attn"):
    try:
        print(f"{name}: {importlib.import_module(name).__version__}")
    except Exception as exc:  # noqa: BLE001
        print(f"{name}: not available ({type(exc).__name__})")
import torch
print("cuda:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
EOF
  echo "cpus: $(nproc)"
  df -h /dev/shm 2>/dev/null | tail -1 | sed 's/^/shm: /'
  nvidia-smi 2>&1 | head -20
} >"$OUT_DIR/env.txt" 2>&1

# DataLoader workers hand batches over in shared memory (a batch of 32 images is ~200 MB of pixels): with a small
# /dev/shm they would die, so the scorer then scores in-process
WORKERS=()
shm_kb=$(df -k /dev/shm 2>/dev/null | awk 'NR==2 {print $2}')
if [ -z "$shm_kb" ] || [ "$shm_kb" -lt 4194304 ]; then
  WORKERS=(--workers 0)
  echo "shm below 4 GiB: scorer loader workers off" >>"$OUT_DIR/env.txt"
fi

step() {  # step NAME LIMIT_S ARGS...: one benchmark under its own time limit; its exit code goes to the summary
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit}s) $(date -u +%T)"
  timeout "$limit" "$PY" "benchmarks/$name.py" "$@" --out "$OUT_DIR/$name.json" >"$OUT_DIR/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc" >>"$OUT_DIR/env.txt"
  echo "== $name: exit $rc $(date -u +%T)"
  tail -n 40 "$OUT_DIR/$name.log"
}

# GPU_SESSION_STEPS names the benchmarks to run (default both): a rerun of one after a change spends less device time
STEPS=" ${GPU_SESSION_STEPS:-scorer generation} "
# ~2 min on an H200 (2026-11-30): the 7B build, 512 mixed-size images scored twice each way in batches of 32 (the
# loader's start-up, ~1 s, is a fixed cost per job: 256 items paid it as a fifth of their time), the loader and the
# model each alone, the model again with transformers' per-image vision attention (~25 s more), 32 items one at a
# time, 8 LoRA steps of 4
if [[ $STEPS == *" scorer "* ]]; then
  if [ ${#SMOKE[@]} -eq 0 ]; then
    step scorer_gpu_throughput 320 --score-items 512 --score-batch 32 --single-items 32 --image-side 448 \
      --train-batch 4 --train-steps 8 "${WORKERS[@]}"
  else
    step scorer_gpu_throughput 300 --smoke --score-items 8 --score-batch 4 --single-items 2 --image-side 56 \
      --train-batch 2 --train-steps 1
  fi
fi
# ~1 min on an H200: 16 images at 512² and 4 videos of 16 frames at 256², 20 steps, one at a time and batched
if [[ $STEPS == *" generation "* ]]; then
  if [ ${#SMOKE[@]} -eq 0 ]; then
    step generation_gpu 220 --steps 20 --images 16 --image-batch 8 --videos 4 --video-batch 2
  else
    step generation_gpu 240 --smoke --steps 2 --images 2 --image-batch 2 --videos 2 --video-batch 2
  fi
fi

"$PY" - "$OUT_DIR" >"$OUT_DIR/summary.md" <<'EOF'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
def load(name):
    try:
        return json.loads((out / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
s, g = load("scorer_gpu_throughput"), load("generation_gpu")
print("| benchmark | figures |\n| --- | --- |")
if s:
    goal = {True: "met", False: "not met", None: "smoke run, not a GPU"}[s["batched_speedup_goal_met"]]
    print(
        f"| `scorer_gpu_throughput.py` | {s['device']}, {s['dtype']}, {s['attn']}: batched scoring "
        f"**{s['score_batched_items_per_s']:.1f} items/s** grouped by size (padding {100 * s['score_padding_share']:.0f}%), "
        f"{s['score_batched_ungrouped_items_per_s']:.1f} ungrouped (padding {100 * s['score_ungrouped_padding_share']:.0f}%); "
        f"one at a time {s['score_one_at_a_time_items_per_s']:.2f} items/s: **{s['batched_speedup']:.1f}x** "
        f"(goal >= 5x: {goal}); the model alone on batches already on the GPU "
        f"{s['score_model_only_items_per_s']:.1f} items/s ({s['score_model_only_items_per_s'] / s['score_one_at_a_time_items_per_s']:.1f}x; "
        f"with transformers' per-image vision attention {s['score_model_only_per_image_attention_items_per_s']:.1f} items/s, "
        f"the batched one {s['vision_attention_speedup']:.2f}x that), "
        f"the loader alone {s['score_loader_only_items_per_s']:.0f} items/s (first batch after {s['score_loader_first_batch_s']:.1f} s, "
        f"{s['score_collate_ms_per_item_one_process']:.1f} ms of collation per item); scoring peak {s['score_peak_gib']} GiB; "
        f"LoRA training **{s['train_samples_per_s']:.2f} samples/s** (batch {s['train_batch']}, gradient checkpointing "
        f"{'on' if s['gradient_checkpointing'] else 'off'}), peak {s['train_peak_gib']} GiB; "
        f"{s['score_items']} items of ~{s['image_side']} px, batch {s['score_batch']} |"
    )
else:
    print("| `scorer_gpu_throughput.py` | no figures: see scorer_gpu_throughput.log |")
if g:
    print(
        f"| `generation_gpu.py` | {g['device']}, {g['steps']} steps: images/s one at a time "
        f"{g['images_per_s_one_at_a_time']}, batched {g['images_per_s_batched']} (batch {g['image_batch']}, "
        f"{g['image_batched_speedup']}x, peak {g.get('image_peak_gpu_gb', 'n/a')} GiB); videos/min one at a time "
        f"{g['videos_per_min_one_at_a_time']}, batched {g['videos_per_min_batched']} (batch {g['video_batch']}, "
        f"{g['video_batched_speedup']}x, peak {g.get('video_peak_gpu_gb', 'n/a')} GiB) |"
    )
else:
    print("| `generation_gpu.py` | no figures: see generation_gpu.log (diffusers missing? run fetch-wheels first) |")
EOF
cat "$OUT_DIR/summary.md"
echo "outputs in $OUT_DIR"
