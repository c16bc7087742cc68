"""Quality control of annotators against golden scores (pure numpy/scipy, no Django).

The platform's Sample-and-Scrutinize (services/scrutiny.py) loads the numbers from the database and
calls exactly this package; everything here is a pure function of plain values, so it is tested and
benchmarked without a database (docs/scrutiny.md explains the statistics).

- :mod:`.evidence`: agreement of paired ratings and golden scores, with 95% confidence intervals
  (Fisher z; Bonett-Wright standard error for Spearman's rho).
- :mod:`.reference`: what the campaign itself knows: the spread of agreement among its raters
  (median and MAD) and how well the experts agree with each other (the ceiling).
- :mod:`.patterns`: spam patterns that correlation alone misses (constant, near-constant, the same
  score on both scales, repeating sequences, too fast).
- :mod:`.decision`: the two decision methods, ``fixed`` (the paper's literal protocol: one threshold
  pair on the batch's own correlations) and ``calibrated`` (the default).
- :mod:`.allocation`: how many hidden golden items an annotator's next batch carries.
"""

from .allocation import golden_for_next_batch
from .decision import METHODS, Verdict, decide
from .evidence import Agreement, agreement
from .patterns import Pattern, find_patterns
from .reference import Reference, campaign_reference, expert_agreement

__all__ = [
    "METHODS",
    "Agreement",
    "Pattern",
    "Reference",
    "Verdict",
    "agreement",
    "campaign_reference",
    "decide",
    "expert_agreement",
    "find_patterns",
    "golden_for_next_batch",
]
