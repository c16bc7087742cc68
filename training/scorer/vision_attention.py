"""Qwen2-VL's vision attention in one SDPA call per run of equal-length images, not one per image.

Why: without flash-attn, transformers' ``VisionAttention`` (qwen2_vl) splits the packed sequence of a batch's
images at every layer (``lengths.tolist()``: the GPU waits for the layer before, the host waits for the GPU) and
calls SDPA once per image: for a batch of 32 images through the 7B's 32 vision layers, 1,024 small attention
calls and 32 host-device round trips per forward, with the GPU idle while each layer's calls are launched. A
scoring batch holds media of similar size (``eval_group_by_size``), so its images usually have the same number
of patches: the same attention is then one SDPA call over a (images, heads, patches, head_dim) batch.

How: :func:`set_vision_attention` switches a loaded model's Qwen2-VL vision attention modules to a subclass
whose forward does the same projections, rotary embedding and attention per image, with the segment lengths
read from the device once per forward (by the first layer, kept for the others by the forward's own
``cu_seqlens`` tensor) and each run of equal lengths given to SDPA together. Same numbers up to kernel rounding
(``tests/scorer/test_vision_attention.py`` compares them with the stock forward on images, mixed sizes and
videos, in training with gradient checkpointing too). Only where transformers would call SDPA: flash-attn (already
one variable-length call per layer) and eager attention keep the stock forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import VISION_ATTENTION_MODES as MODES

# The runs are kept on the forward's own cu_seqlens tensor: the tower makes it once per forward and hands the same
# object to every layer (gradient checkpointing's recomputation replays a layer with it too), so the lengths are
# read from the device once per forward, by the first layer, and go when the forward's tensors go.
_RUNS_ATTR = "_qeval_segment_runs"


def _stock_class():
    """transformers' Qwen2-VL vision attention class, or None without Qwen2-VL."""
    try:
        from transformers.models.qwen2_vl.modeling_qwen2_vl import VisionAttention
    except ImportError:  # pragma: no cover - a transformers without Qwen2-VL
        return None
    return VisionAttention


def segment_runs(cu_seqlens: torch.Tensor) -> tuple[tuple[int, int], ...]:
    """The attention segments of a packed vision batch as runs of equal length, ((count, length), ...) in
    sequence order (one segment per image, or per frame pair of a video), read once per cu_seqlens tensor."""
    runs = getattr(cu_seqlens, _RUNS_ATTR, None)
    if runs is None:
        found: list[list[int]] = []
        for length in (cu_seqlens[1:] - cu_seqlens[:-1]).tolist():  # the one host read of this forward
            if found and found[-1][1] == length:
                found[-1][0] += 1
            else:
                found.append([1, int(length)])
        runs = tuple((count, length) for count, length in found)
        setattr(cu_seqlens, _RUNS_ATTR, runs)
    return runs


def _batched_forward(self, hidden_states, cu_seqlens, position_embeddings=None, max_seqlen=None, **kwargs):
    seq_length = hidden_states.shape[0]
    if (
        not getattr(self, "_qeval_batched", False)
        or self.config._attn_implementation != "sdpa"
        or position_embeddings is None
        or kwargs.get("output_attentions")
    ):
        return super(type(self), self).forward(
            hidden_states, cu_seqlens, position_embeddings=position_embeddings, max_seqlen=max_seqlen, **kwargs
        )
    from transformers.models.qwen2_vl.modeling_qwen2_vl import apply_rotary_pos_emb_vision

    runs = segment_runs(cu_seqlens)
    q, k, v = self.qkv(hidden_states).reshape(seq_length, 3, self.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
    cos, sin = position_embeddings
    q, k = apply_rotary_pos_emb_vision(q, k, cos, sin)
    dropout = self.attention_dropout if self.training else 0.0
    outputs, start = [], 0
    for count, length in runs:
        end = start + count * length
        # (count*length, heads, d) -> (count, heads, length, d): one image (or video frame pair) per batch row
        qs, ks, vs = (x[start:end].unflatten(0, (count, length)).transpose(1, 2) for x in (q, k, v))
        out = F.scaled_dot_product_attention(qs, ks, vs, dropout_p=dropout, scale=self.scaling)
        outputs.append(out.transpose(1, 2).reshape(count * length, -1))
        start = end
    attn_output = outputs[0] if len(outputs) == 1 else torch.cat(outputs)
    return self.proj(attn_output)


_CLASSES: dict[type, type] = {}


def _batched_class(stock: type) -> type:
    if stock not in _CLASSES:
        # named as this module's attribute (see __getattr__), so a model holding one pickles (torch.save(model))
        _CLASSES[stock] = type(
            "BatchedVisionAttention", (stock,), {"forward": _batched_forward, "__module__": __name__}
        )
    return _CLASSES[stock]


def __getattr__(name: str):
    """`BatchedVisionAttention`, made on first use: it subclasses transformers' class, imported lazily."""
    stock = _stock_class() if name == "BatchedVisionAttention" else None
    if stock is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _batched_class(stock)


def set_vision_attention(model, mode: str) -> int:
    """Switch `model`'s Qwen2-VL vision attention to `mode` ("batched": one SDPA call per run of equal-length
    images; "per_image": transformers' own forward) and return how many attention modules it has (0: not a
    Qwen2-VL, nothing done). Idempotent; switching back and forth keeps the weights."""
    if mode not in MODES:
        raise ValueError(f"vision_attention must be one of {', '.join(MODES)}, got {mode!r}")
    stock = _stock_class()
    found = 0
    for module in model.modules() if stock is not None else ():
        if isinstance(module, stock):
            if type(module) is stock:
                module.__class__ = _batched_class(stock)
            module._qeval_batched = mode == "batched"
            found += 1
    return found
