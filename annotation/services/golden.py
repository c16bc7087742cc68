"""Golden sample and golden scores. (Being written by the scrutiny engineer; signatures are the contract.)"""
from __future__ import annotations


def expert_batch_request(*, campaign, user):
    """Expert mode of the rating page: lease golden items that still need expert ratings.
    Returns (batch, created) like assignment.batch_request, or (None, False) when there is no work."""
    raise NotImplementedError("expert batches are not implemented yet")


def golden_scores_update(*, item) -> None:
    """Recompute the golden score of `item` from its expert ratings (called after each expert rating)."""
    raise NotImplementedError("golden scores from expert ratings are not implemented yet")
