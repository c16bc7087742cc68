"""Turn approved 1-5 ratings into per-item Mean Opinion Scores (pure numpy/pandas/scipy, no Django).

The Q-Eval-100K paper (arXiv 2503.02357) reports, per item and per dimension (visual quality,
alignment), the MOS of its annotators' ratings. This package computes it, its spread and 95% CI,
and three bias-robust alternatives, all vectorised (100K items x 1M ratings in seconds).

API (the platform calls exactly this)::

    from annotation.aggregation import aggregate, split_half_agreement, METHODS

    result = aggregate(ratings, method="mean", params=None)     # one dimension at a time

``ratings``: DataFrame with columns ``item`` and ``annotator`` (ids, normally integers) and numeric
``score`` (1..5), one row per rating. Only ratings of approved batches should be passed (the caller
filters). Ids need not be contiguous; output frames are indexed by the ids, sorted.

``result.items``: indexed by ``item``: float ``mos``, ``std``, ``ci95``; int ``n`` (ratings used).
    ``std`` has ``ddof=1``; ``ci95`` is the half-width of the 95% CI, ``t_{0.975,n-1} * std/sqrt(n)``
    (Student's t); with ``n == 1`` both are NaN (``None`` once serialised). See :mod:`.stats`.
``result.annotators``: indexed by ``annotator``: float ``bias``, ``inconsistency``; int ``n``
    (ratings given); bool ``rejected`` (only ``bt500`` rejects; it also adds int ``p``, ``q``).
``result.info``: JSON-serialisable dict: ``method``, ``params`` (all, defaults filled in),
    ``n_ratings``, ``n_items``, ``n_annotators`` and per-method extras (``rejected_annotators`` for
    ``bt500``; ``iterations``, ``converged``, ``log_likelihood`` for ``mle``; ...).

Methods (``METHODS``; details and citations in each module of :mod:`.methods`):

* ``mean`` (default): the paper's MOS, the plain mean. No params.
* ``zscore``: per-annotator z-scores, rescaled with the pooled mean/std, clipped to ``scale``.
  Params: ``scale=(1, 5)`` (None: no clipping), ``min_annotator_ratings=2``, ``min_annotator_std=0.3``.
* ``bt500``: ITU-R BT.500-14 Annex 2 section 2.3.1 observer screening, then the mean.
  Params: ``normal_factor=2``, ``nonnormal_factor=sqrt(20)``, ``kurtosis_range=(2, 4)``,
  ``ratio_threshold=0.05``, ``balance_threshold=0.3``.
* ``mle``: ITU-T P.910 Annex E / SUREAL MLE_CO subject model ``u_ij = psi_j + Delta_i + v_i X``.
  Params: ``v_min=0.3``, ``max_iter=500``, ``tol=1e-6``, ``min_annotator_ratings=2``,
  ``zero_mean_bias=True``, ``scale=(1, 5)``, ``dof_correction=True``.

Errors: unknown method, unknown/invalid params or malformed ratings raise ``ValueError``. Empty
ratings give empty frames with the same columns.

``split_half_agreement(ratings, *, seed=0, n_splits=10, spearman_brown=False) -> float``: mean
split-half SRCC across items (see :mod:`.agreement`).
"""

from .agreement import split_half_agreement
from .api import DEFAULT_PARAMS, METHODS, aggregate
from .result import AggregationResult

__all__ = ["aggregate", "split_half_agreement", "METHODS", "DEFAULT_PARAMS", "AggregationResult"]
