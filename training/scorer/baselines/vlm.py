"""Baselines that ask a vision-language model (any ``AutoModelForImageTextToText`` folder; Qwen2-VL runs
without torchvision through :mod:`training.scorer.processing`) and read its next-token probabilities:

* ``vqascore`` (Lin et al. 2024, alignment): P("Yes") for the question
  ``Does this figure show "{prompt}"? Please answer yes or no.``, softmax over the whole vocabulary at the
  answer position. The paper's VQAScore used CLIP-FlanT5 (t2v_metrics' own code, not a transformers class);
  any instruction-tuned VLM folder works here and the report names the model.
* ``q-align`` (Wu et al. 2024, quality): the question ``How would you rate the quality of this image?``, the
  answer started as ``The quality of the image is``, softmax over the five lower-case level words' first
  tokens, weights [1, .75, .5, .25, 0], ``1 + 4x``. Q-Align's own checkpoint is mPLUG-Owl2 with remote code
  (not loadable through transformers' classes): give a VLM folder that is (e.g. Qwen2-VL), and the method is
  Q-Align's rating-word scoring on that model.

Videos go to the model as videos (qwen-vl-utils frame rule), images as images, in batches with left padding.
"""

from __future__ import annotations

from pathlib import Path

from .base import Baseline, BaselineUnavailable, local_dir

VQA_QUESTION = 'Does this figure show "{prompt}"? Please answer yes or no.'
QALIGN_QUESTION = "How would you rate the quality of this {media}?"
QALIGN_PREFIX = "The quality of the {media} is"
QALIGN_WORDS = ("excellent", "good", "fair", "poor", "bad")


class VlmBaseline(Baseline):
    def __init__(self, model_path: str | Path, *, device: str | None = None, **_):
        import torch

        from ..config import ScorerConfig
        from ..data import MediaSettings, ScorerCollator
        from ..modeling import load_base_model
        from ..processing import load_processor

        folder = local_dir(model_path, self.name)
        cfg = ScorerConfig(model_name_or_path=str(folder))
        try:
            self.model = load_base_model(str(folder), cfg)
        except (ValueError, OSError) as exc:
            raise BaselineUnavailable(
                f"{self.name}: {folder} does not load as an image-text-to-text model "
                f"({exc}); give a VLM folder such as Qwen2-VL-7B-Instruct"
            ) from exc
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.processor = load_processor(folder, model_type=getattr(self.model.config, "model_type", None), config=cfg)
        self.collator = ScorerCollator(self.processor, MediaSettings.from_config(cfg))

    def first_token(self, word: str) -> int:
        ids = self.processor.tokenizer.encode(word, add_special_tokens=False)
        if not ids:
            raise BaselineUnavailable(f"{self.name}: the tokenizer gives no token for {word!r}")
        return int(ids[0])

    def texts(self, item: dict) -> str:
        raise NotImplementedError

    def read(self, logits):
        raise NotImplementedError

    def score(self, items: list[dict], batch_size: int = 8) -> list[float]:
        import torch

        from ..modeling import answer_logits

        out: list[float] = []
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            texts: list[str] = []
            images: list = []
            videos: list = []
            for item in chunk:
                texts.append(self.texts(item))
                rec = {"media": str(item["media"]), "media_type": item.get("media_type", "image")}
                (videos if rec["media_type"] == "video" else images).append(self.collator.load_media(rec))
            inputs = self.processor(texts, images, videos)
            inputs = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in inputs.items()}
            with torch.no_grad():
                out += self.read(answer_logits(self.model, inputs).float()).cpu().tolist()
        return out


class VqaScore(VlmBaseline):
    name = "vqascore"
    dimension = "alignment"

    def texts(self, item):
        media = item.get("media_type", "image")
        return self.processor.render(f"<{media}>" + VQA_QUESTION.format(prompt=item.get("prompt", "")), media)

    def read(self, logits):
        import torch

        return torch.softmax(logits, dim=-1)[:, self.first_token("Yes")]


class QAlign(VlmBaseline):
    name = "q-align"
    dimension = "quality"

    def texts(self, item):
        media = item.get("media_type", "image")
        return self.processor.render(f"<{media}>" + QALIGN_QUESTION.format(media=media), media) + QALIGN_PREFIX.format(
            media=media
        )

    def read(self, logits):
        import torch

        ids = [self.first_token(" " + w) for w in QALIGN_WORDS]
        probs = torch.softmax(logits[:, ids], dim=-1)
        return 1.0 + 4.0 * (probs * torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0], device=probs.device)).sum(-1)
