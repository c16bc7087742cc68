"""Package hygiene: no Django anywhere in training/scorer; the package root and prompts stay torch-free;
the context prompts equal REFERENCE.md's text exactly."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from training.scorer.prompts import context_prompt

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "training" / "scorer"


def test_no_django_imports():
    for path in PKG.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+django", text, flags=re.M), path


def test_prompts_import_without_torch():
    code = (
        "import sys, training.scorer, training.scorer.prompts, training.scorer.config, "
        "training.scorer.metrics, training.scorer.v2s, training.scorer.benchmark, training.scorer.baselines; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def _reference_prompts():
    for candidate in (REPO.parent / "shared" / "REFERENCE.md", REPO / "shared" / "REFERENCE.md"):
        if candidate.exists():
            text = candidate.read_text()
            blocks = re.findall(
                r"### (image|video) / (visual quality|alignment)\s*```text\n(.*?)\n```", text, flags=re.S
            )
            return {(m, "quality" if d == "visual quality" else "alignment"): body for m, d, body in blocks}
    pytest.skip("../shared/REFERENCE.md not found beside the repository")


def test_prompts_match_reference_exactly():
    ref = _reference_prompts()
    assert len(ref) == 4
    for (media, dim), body in ref.items():
        assert context_prompt(media_type=media, dimension=dim, prompt="{prompt}") == body
    assert context_prompt(media_type="image", dimension="quality", prompt="x").split("\n")[0].endswith("quality. ")
