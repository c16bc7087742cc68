"""Qwen2-VL's M-RoPE position ids computed where a batch is collated (the loader's workers), not in the forward.

Why: given no ``position_ids``, ``Qwen2VLModel.forward`` computes them with ``get_rope_index``, a Python loop over
the batch's rows (a boolean mask and a ``tolist()`` of each row's token types, ``itertools.groupby`` over every
token, three ``.item()`` reads of each image's grid, a handful of small tensor operations per image), on the
model's device, between the vision tower and the language model: 8 ms of host time for 32 rows of ~700 tokens on
the CPU, and on a GPU about 200 device-to-host reads per batch with the GPU idle until the loop ends. The same ids
depend only on the collated batch (token ids and types, the grids, the attention mask), so the collator computes
them on the CPU, in the loader's workers beside the model, and the forward takes them as they are.

How: :class:`LoaderPositions` runs transformers' own ``Qwen2VLModel.get_rope_index`` (the same code, not a copy of
it) on the batch's CPU tensors, with itself standing in for the model (the method reads only the vision config's
``spatial_merge_size`` and calls ``get_vision_position_ids``). It is small and picklable, so a loader worker can
hold it. ``tests/scorer/test_positions.py`` checks that the ids equal the model's own and that the logits are the
same either way, for images, videos and left padding.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch


class LoaderPositions:
    """``position_ids`` (3, batch, sequence) for a collated Qwen2-VL batch; see the module docstring."""

    def __init__(self, spatial_merge_size: int):
        self.spatial_merge_size = int(spatial_merge_size)

    @property
    def config(self):  # what get_rope_index reads of its model
        return SimpleNamespace(vision_config=SimpleNamespace(spatial_merge_size=self.spatial_merge_size))

    def get_vision_position_ids(self, *args, **kwargs):
        from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLModel

        return Qwen2VLModel.get_vision_position_ids(self, *args, **kwargs)  # type: ignore[arg-type]

    def __call__(self, inputs: dict) -> torch.Tensor | None:
        """The batch's position ids, or None for a batch without media (the model then numbers it itself)."""
        from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLModel

        if "mm_token_type_ids" not in inputs or not ("image_grid_thw" in inputs or "video_grid_thw" in inputs):
            return None
        position_ids, _ = Qwen2VLModel.get_rope_index(
            self,  # type: ignore[arg-type]
            inputs["input_ids"],
            inputs["mm_token_type_ids"],
            image_grid_thw=inputs.get("image_grid_thw"),
            video_grid_thw=inputs.get("video_grid_thw"),
            attention_mask=inputs.get("attention_mask"),
        )
        return position_ids


def loader_positions(model) -> LoaderPositions | None:
    """A :class:`LoaderPositions` for a Qwen2-VL model (``model_type`` qwen2_vl; wrapped in peft or not), else None:
    other models (Qwen2.5-VL numbers video frames by their time) compute their own in the forward."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) != "qwen2_vl":
        return None
    return LoaderPositions(config.vision_config.spatial_merge_size)
