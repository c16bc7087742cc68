"""CLIP-style baselines on transformers' ``CLIPModel`` (local folder only), zero-shot or with a linear head.

* ``clipscore`` (Hessel et al. 2021): ``2.5 * max(cos(image, text), 0)``. torchmetrics' ``CLIPScore`` would be
  the library to use, but its 1.9 release calls ``get_image_features`` expecting a tensor, and transformers 5
  returns a ModelOutput there, so the same arithmetic runs here on the model directly.
* ``pickscore`` (Kirstain et al. 2023, a fine-tuned CLIP-H in transformers' format): ``logit_scale * cos``.
* ``hpsv2`` (Wu et al. 2023): ``cos`` on HPS v2's CLIP. Its release is an open_clip checkpoint
  (``HPS_v2_compressed.pt``): give that file and it loads through open_clip (which needs torchvision), or give a
  transformers CLIPModel folder converted from it.
* ``clip-iqa`` (Wang et al. 2023, quality): ``softmax(100 * [cos(img, "Good photo."), cos(img, "Bad photo.")])[0]``.

Fine-tuned variant (the paper fine-tunes the CLIP-style baselines on Q-Eval-100K): a ridge-regression head on
frozen features, fitted to the MOS of a split (:func:`fit_head`): for alignment the element-wise product of the
normalised image and text embeddings plus their cosine; for quality the normalised image embedding. The head is
stored as ``head.json`` and used with ``--head``. Images go through ``CLIPImageProcessorPil`` (no torchvision).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .base import Baseline, BaselineUnavailable, item_frames, local_dir

IQA_PROMPTS = ("Good photo.", "Bad photo.")


class ClipBaseline(Baseline):
    """Shared loading and embedding; subclasses turn embeddings into a score."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str | None = None,
        head: str | Path | None = None,
        dimension: str | None = None,
    ):
        import torch
        from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel

        folder = local_dir(model_path, self.name)
        if folder.is_file():
            raise BaselineUnavailable(f"{self.name}: {folder} is a file; give a transformers CLIPModel folder")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = CLIPModel.from_pretrained(str(folder)).to(self.device).eval()  # type: ignore[arg-type]  # stub
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.image_processor = CLIPImageProcessorPil.from_pretrained(str(folder))
        self.max_text = int(self.model.config.text_config.max_position_embeddings)
        self.head = load_head(head) if head else None
        if self.head:
            self.dimension = self.head["dimension"]
        elif dimension:
            self.dimension = dimension

    # --- embeddings -----------------------------------------------------------------------------------
    def _image_embeds(self, images) -> np.ndarray:
        import torch

        with torch.no_grad():
            pixels = self.image_processor(images=images, return_tensors="pt")["pixel_values"].to(self.device)
            out = self.model.get_image_features(pixel_values=pixels)
            feats = out if torch.is_tensor(out) else out.pooler_output
        return torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy()

    def _text_embeds(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.no_grad():
            enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_text, return_tensors="pt")
            out = self.model.get_text_features(
                input_ids=enc["input_ids"].to(self.device), attention_mask=enc["attention_mask"].to(self.device)
            )
            feats = out if torch.is_tensor(out) else out.pooler_output
        return torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy()

    def embed(self, items: list[dict], batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Per item: the normalised mean of its frames' image embeddings, and its prompt's text embedding."""
        image_rows = []
        frames: list = []
        owner: list[int] = []
        for i, item in enumerate(items):
            for f in item_frames(item, self.video_frames):
                frames.append(f)
                owner.append(i)
        feats = (
            np.concatenate([self._image_embeds(frames[s : s + batch_size]) for s in range(0, len(frames), batch_size)])
            if frames
            else np.zeros((0, 1))
        )
        owners = np.asarray(owner)
        for i in range(len(items)):
            v = feats[owners == i].mean(axis=0)
            image_rows.append(v / (np.linalg.norm(v) or 1.0))
        prompts = [str(it.get("prompt", "")) for it in items]
        texts = np.concatenate(
            [self._text_embeds(prompts[s : s + batch_size]) for s in range(0, len(prompts), batch_size)]
        )
        return np.stack(image_rows), texts

    def features(self, img: np.ndarray, txt: np.ndarray) -> np.ndarray:
        """Inputs of the fine-tuned head (see the module docstring)."""
        if self.dimension == "quality":
            return img
        return np.concatenate([img * txt, (img * txt).sum(axis=1, keepdims=True)], axis=1)

    def score(self, items: list[dict], batch_size: int = 16) -> list[float]:
        img, txt = self.embed(items, batch_size)
        if self.head:
            return (self.features(img, txt) @ np.asarray(self.head["weights"]) + self.head["bias"]).tolist()
        return self.zero_shot(img, txt).tolist()

    def zero_shot(self, img: np.ndarray, txt: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class ClipScore(ClipBaseline):
    name = "clipscore"

    def zero_shot(self, img, txt):
        return 2.5 * np.maximum((img * txt).sum(axis=1), 0.0)


class PickScore(ClipBaseline):
    name = "pickscore"

    def zero_shot(self, img, txt):
        return float(self.model.logit_scale.detach().exp()) * (img * txt).sum(axis=1)


class HPSv2(ClipBaseline):
    name = "hpsv2"

    def __init__(self, model_path, **kw):
        path = Path(model_path) if model_path else None
        if path is not None and path.is_file():
            self._init_open_clip(path, **kw)
        else:
            super().__init__(model_path, **kw)

    def _init_open_clip(self, checkpoint: Path, *, device=None, head=None, dimension=None):
        """The released HPS v2 checkpoint through open_clip (ViT-H-14), as the hpsv2 package loads it."""
        try:
            import open_clip
            import torch
        except Exception as exc:  # noqa: BLE001 - open_clip imports torchvision
            raise BaselineUnavailable(
                f"hpsv2: {checkpoint} is an open_clip checkpoint and open_clip does not import here "
                f"({type(exc).__name__}: it needs torchvision). Install open_clip_torch with torchvision, or convert "
                "the checkpoint to a transformers CLIPModel folder and give that"
            ) from exc
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model, _, preprocess = open_clip.create_model_and_transforms(
            "ViT-H-14", pretrained=str(checkpoint), device=self.device
        )
        self._oc = (model.eval(), preprocess, open_clip.get_tokenizer("ViT-H-14"))
        self.head = load_head(head) if head else None
        if self.head:
            self.dimension = self.head["dimension"]

    def _image_embeds(self, images):
        if not hasattr(self, "_oc"):
            return super()._image_embeds(images)
        import torch

        model, preprocess, _ = self._oc
        with torch.no_grad():
            f = model.encode_image(torch.stack([preprocess(im) for im in images]).to(self.device))
        return torch.nn.functional.normalize(f.float(), dim=-1).cpu().numpy()

    def _text_embeds(self, texts):
        if not hasattr(self, "_oc"):
            return super()._text_embeds(texts)
        import torch

        model, _, tokenizer = self._oc
        with torch.no_grad():
            f = model.encode_text(tokenizer(texts).to(self.device))
        return torch.nn.functional.normalize(f.float(), dim=-1).cpu().numpy()

    def zero_shot(self, img, txt):
        return (img * txt).sum(axis=1)


class ClipIqa(ClipBaseline):
    name = "clip-iqa"
    dimension = "quality"

    def zero_shot(self, img, txt):
        anchors = self._text_embeds(list(IQA_PROMPTS))
        logits = 100.0 * img @ anchors.T
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p[:, 0] / p.sum(axis=1)


# --- the fine-tuned head ------------------------------------------------------------------------------


def fit_head(
    baseline: ClipBaseline,
    items: list[dict],
    mos: list[float],
    *,
    dimension: str,
    alpha: float = 1.0,
    batch_size: int = 16,
) -> dict:
    """Ridge regression (closed form, intercept unpenalised) from the baseline's frozen features to the MOS."""
    baseline.dimension = dimension
    img, txt = baseline.embed(items, batch_size)
    x = baseline.features(img, txt)
    y = np.asarray(mos, dtype=float)
    x_mean, y_mean = x.mean(axis=0), y.mean()
    xc = x - x_mean
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - y_mean))
    return {
        "baseline": baseline.name,
        "dimension": dimension,
        "alpha": alpha,
        "n_train": len(y),
        "weights": w.tolist(),
        "bias": float(y_mean - x_mean @ w),
    }


def save_head(head: dict, out_dir: str | Path) -> Path:
    path = Path(out_dir) / "head.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(head) + "\n")
    return path


def load_head(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "head.json"
    if not path.exists():
        raise BaselineUnavailable(
            f"no fitted head at {path} (fit one with `python -m training.scorer baseline-finetune`)"
        )
    return json.loads(path.read_text())
