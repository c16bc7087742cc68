"""BLIP-2 image-text matching score (``blip2-itm``): P(match) from the Q-Former's ITM head, through
transformers' ``Blip2ForImageTextRetrieval`` (e.g. a local copy of Salesforce/blip2-itm-vit-g), images through
``BlipImageProcessorPil`` (no torchvision). The paper's "BLIP2Score" row."""

from __future__ import annotations

from pathlib import Path

from .base import Baseline, local_dir


class Blip2Itm(Baseline):
    name = "blip2-itm"
    dimension = "alignment"

    def __init__(self, model_path: str | Path, *, device: str | None = None, **_):
        import torch
        from transformers import AutoTokenizer, Blip2ForImageTextRetrieval, BlipImageProcessorPil

        folder = local_dir(model_path, self.name)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = Blip2ForImageTextRetrieval.from_pretrained(str(folder)).to(self.device).eval()  # type: ignore[arg-type]
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.image_processor = BlipImageProcessorPil.from_pretrained(str(folder))
        self.max_text = int(getattr(self.model.config.qformer_config, "max_position_embeddings", 512))

    def score_images(self, images, prompts):
        import torch

        cfg = self.model.config
        budget = self.max_text - (cfg.num_query_tokens if cfg.image_token_index is not None else 0)
        enc = self.tokenizer(prompts, padding=True, truncation=True, max_length=budget, return_tensors="pt")
        ids, mask = enc["input_ids"], enc["attention_mask"]
        if cfg.image_token_index is not None:  # newer checkpoints expect the query placeholders in the text
            n = cfg.num_query_tokens
            ids = torch.cat([torch.full((ids.shape[0], n), cfg.image_token_index, dtype=ids.dtype), ids], dim=1)
            mask = torch.cat([torch.ones((mask.shape[0], n), dtype=mask.dtype), mask], dim=1)
        pixels = self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            out = self.model(
                pixel_values=pixels.to(self.device, self.model.dtype),
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                use_image_text_matching_head=True,
            )
        return torch.softmax(out.logits_per_image.float(), dim=-1)[:, 1].cpu().tolist()
