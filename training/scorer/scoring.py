"""Rating-word score and the two loss terms (Q-Align / Q-Eval-Score), on logits of the answer position.

Score: take the logits of the first answer token for the five level words (the first sub-token of each
capitalised word ``Excellent, Good, Fair, Poor, Bad``), softmax over those five only, inner product with
``[1, 0.75, 0.5, 0.25, 0]``, then ``1 + 4x`` onto the 1-5 MOS scale.

Loss (choices documented here, settings in :class:`~training.scorer.config.ScorerConfig`):

* cross-entropy on the level word of the MOS. ``ce_over="vocab"`` (default) is the ordinary SFT loss over
  the whole vocabulary at the answer position, so the fine-tuned model still *answers* with a level word
  when it generates; ``ce_over="levels"`` restricts the softmax to the five words.
* ``lambda * MSE`` between the expected score and the MOS. ``mse_scale="mos"`` (default) compares both on
  1-5, as the paper does; ``"unit"`` maps both to 0-1 first (16x smaller, for a lambda tuned that way).

Either term is switched off with a zero weight (``ce_weight=0`` / ``mse_weight=0``), the paper's Table 4
ablation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .prompts import LEVEL_WEIGHTS, LEVELS


def level_token_ids(tokenizer) -> list[int]:
    """Token id of the first sub-token of each level word, in :data:`LEVELS` order."""
    ids = []
    for word in LEVELS:
        pieces = tokenizer.encode(word, add_special_tokens=False)
        if not pieces:
            raise ValueError(f"tokenizer gives no token for level word {word!r}")
        ids.append(int(pieces[0]))
    if len(set(ids)) != len(ids):
        raise ValueError(f"level words share first sub-tokens {dict(zip(LEVELS, ids))}; cannot score")
    return ids


def level_probabilities(answer_logits: torch.Tensor, level_ids: list[int] | torch.Tensor) -> torch.Tensor:
    """(B, V) logits at the answer position -> (B, 5) softmax over the five level words only."""
    idx = torch.as_tensor(level_ids, device=answer_logits.device, dtype=torch.long)
    # the five columns first, then float: the same values without a float copy of the whole vocabulary
    return torch.softmax(answer_logits.index_select(-1, idx).float(), dim=-1)


def level_weights(device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``[1, .75, .5, .25, 0]`` on ``device``: made once by a scoring loop, so no batch copies it to the GPU again."""
    return torch.tensor(LEVEL_WEIGHTS, device=device, dtype=dtype)


def expected_score(probs: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 5) level probabilities -> (B,) score on 1-5: ``1 + 4 * probs @ [1, .75, .5, .25, 0]``."""
    w = level_weights(probs.device, probs.dtype) if weights is None else weights
    return 1.0 + 4.0 * (probs * w).sum(-1)


@dataclass
class LossOutput:
    loss: torch.Tensor
    ce: torch.Tensor
    mse: torch.Tensor
    scores: torch.Tensor  # (B,) expected score on 1-5
    probs: torch.Tensor  # (B, 5)


def scorer_loss(
    answer_logits: torch.Tensor,
    level_ids: list[int] | torch.Tensor,
    target_level: torch.Tensor,
    mos: torch.Tensor,
    *,
    ce_weight: float = 1.0,
    mse_weight: float = 1.0,
    ce_over: str = "vocab",
    mse_scale: str = "mos",
) -> LossOutput:
    """Both loss terms from (B, V) answer logits.

    ``target_level`` holds indices into :data:`LEVELS` (0 = Excellent ... 4 = Bad); ``mos`` is on 1-5.
    """
    logits = answer_logits.float()
    idx = torch.as_tensor(level_ids, device=logits.device, dtype=torch.long)
    level_logits = logits.index_select(-1, idx)
    probs = torch.softmax(level_logits, dim=-1)
    scores = expected_score(probs)
    target_level = target_level.to(logits.device).long()
    mos = mos.to(logits.device).float()

    zero = logits.new_zeros(())
    if ce_weight > 0:
        if ce_over == "vocab":
            ce = F.cross_entropy(logits, idx[target_level])
        elif ce_over == "levels":
            ce = F.cross_entropy(level_logits, target_level)
        else:
            raise ValueError(f"ce_over must be 'vocab' or 'levels', got {ce_over!r}")
    else:
        ce = zero
    if mse_weight > 0:
        if mse_scale == "mos":
            mse = F.mse_loss(scores, mos)
        elif mse_scale == "unit":
            mse = F.mse_loss((scores - 1.0) / 4.0, (mos - 1.0) / 4.0)
        else:
            raise ValueError(f"mse_scale must be 'mos' or 'unit', got {mse_scale!r}")
    else:
        mse = zero
    loss = ce_weight * ce + mse_weight * mse
    return LossOutput(loss=loss, ce=ce.detach(), mse=mse.detach(), scores=scores.detach(), probs=probs.detach())
