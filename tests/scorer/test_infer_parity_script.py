"""The released-inference parity script needs a GPU, the checkpoint, torchvision and qwen-vl-utils: without
them it names what is missing and exits 2 (run it on a GPU box: benchmarks/scorer_infer_parity.py)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_parity_script_says_what_is_missing_and_exits_2(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "benchmarks/scorer_infer_parity.py",
            "--checkpoint",
            str(tmp_path / "none"),
            "--media",
            "a.png",
            "--prompt",
            "a red cube",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("parity run not possible here:")
    assert "no checkpoint at" in proc.stderr
    import torch

    if not torch.cuda.is_available():
        assert "no CUDA device" in proc.stderr
