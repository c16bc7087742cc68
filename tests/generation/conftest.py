"""Helpers for the generation tests: prompt files, a campaign with a prompt set, tiny generators registered.

The tiny pipelines are built once per test session under settings.GENERATION_ROOT (the workers share it)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

PROMPTS = [
    {
        "text": "A red cube on a wooden table",
        "category": "Entity Generation",
        "subcategory": "object",
        "tags": "simple;color",
    },
    {"text": "a photo of a smiling old woman in a garden", "category": "", "subcategory": "", "tags": ""},
    {"text": "A neon sign that says OPEN above a shop door", "category": "", "subcategory": "", "tags": "text"},
    {
        "text": (
            "a bar chart comparing the monthly rainfall of three cities, with blue green and orange bars, clear "
            "labels on both axes, a title at the top and a legend on the right side of the figure"
        ),
        "category": "",
        "subcategory": "",
        "tags": "long",
    },
]


class PromptFiles:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def csv(
        self, rows: list[dict], name: str = "prompts.csv", columns=("text", "category", "subcategory", "tags")
    ) -> Path:
        path = self.root / name
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        return path

    def jsonl(self, rows: list[dict], name: str = "prompts.jsonl") -> Path:
        path = self.root / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path


@pytest.fixture
def prompt_files(tmp_path) -> PromptFiles:
    return PromptFiles(tmp_path / "prompts")


@pytest.fixture
def prompt_set(db, campaign, prompt_files):
    from generation.services.prompts import prompt_set_ensure, prompts_import

    prompt_set = prompt_set_ensure(campaign=campaign, name="main")
    prompts_import(prompt_set=prompt_set, path=prompt_files.csv(PROMPTS))
    return prompt_set


@pytest.fixture
def tiny_generators(db, campaign):
    """Registered tiny generators with names unique to the campaign (generator names are platform-wide)."""
    from generation.services.generators import generator_register

    image = generator_register(name=f"tiny-image-{campaign.slug}", campaign=campaign, kind="diffusers", tiny="image")
    video = generator_register(name=f"tiny-video-{campaign.slug}", campaign=campaign, kind="diffusers", tiny="video")
    return image.generator.name, video.generator.name
