"""The automatic decision on a batch: ``fixed`` (the paper's literal protocol) or ``calibrated``.

``fixed`` (today's thresholds, kept to reproduce the paper's protocol literally): per dimension, the
batch's own SRCC / PLCC on its golden items against ``approve_threshold`` and ``reject_threshold``, with
at least ``min_golden`` golden items; constant ratings are rejected.

``calibrated`` (the default) asks one question, "is this rater genuine?", of all the golden evidence
the rater has in the campaign, and answers with a probability:

1. Evidence: the rater's SRCC against the golden scores over every golden item they rated in the
   campaign so far (cumulative), per dimension, on Fisher's z scale with its standard error
   (Bonett-Wright), so n enters: ten golden items say little, a hundred say a lot. (The platform
   decides a rater's earlier batches again when their standing crosses a decision line, so every
   batch ends up judged on all the evidence.)
2. Two hypotheses per dimension (:mod:`.hypotheses`): *genuine*, true agreement drawn from the
   campaign's genuine raters (centre and spread from :mod:`.reference`: the campaign's raters fitted by
   EM, capped by the experts' own agreement, floored away from chance), and *careless*: chance (random
   clicking, straight-lining) or half effort (rating at random half of the time), so a rater who agrees
   half as well as the campaign's raters is not taken for a weak but honest one on thin evidence. Each
   is a normal on the z scale widened by the estimate's standard error; the log likelihood ratio of
   the observed z weighs them.
3. The posterior P(genuine) combines the dimensions' log likelihood ratios with a prior: the
   campaign's own share of genuine raters (the mean of its raters' P(genuine)), starting from
   PRIOR_GENUINE (most people who sign up are honest) while it has few raters.
4. Decision: **approve** when P(genuine) >= approve_probability (default 0.95), no dimension leans
   careless nor has constant ratings on its golden items, every rated dimension has at least
   ``min_golden`` golden items so far, and the batch's own golden ratings do not disagree conclusively;
   **reject** when a spam pattern is found, the scale is conclusively inverted, or P(genuine) <=
   reject_probability (default 0.05) once at least REJECT_EVIDENCE_FACTOR x ``min_golden`` golden
   items are in; otherwise **needs review**. A rater
   who turns careless is still caught: the batch's own evidence, weighed alone (even prior), that says
   "careless" with probability >= 1 - BATCH_ALARM sends the batch to review however good the record.

Every reason names the dimension, the figure, its interval, the reference it was held against and the
rule that fired, in words an admin can act on; a separate plain-words reason is what the annotator
reads (never a golden score, nor which items were golden).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from .evidence import Agreement
from .hypotheses import careless_logpdf, genuine_logpdf
from .patterns import Pattern
from .reference import Reference

FIXED, CALIBRATED = "fixed", "calibrated"
METHODS = (FIXED, CALIBRATED)
APPROVED, REJECTED, NEEDS_REVIEW = "approved", "rejected", "needs_review"

PRIOR_GENUINE = 0.9
BATCH_ALARM = 0.05  # the batch alone says careless with probability >= 0.95: review
REJECT_EVIDENCE_FACTOR = 3  # rejection for disagreement needs 3 x min_golden golden items so far


@dataclass(frozen=True)
class Settings:
    """The campaign's QC settings (the decision reads only these)."""

    method: str = CALIBRATED
    measures: tuple[str, ...] = ("srcc", "plcc")  # fixed: which correlations are compared
    approve_threshold: float = 0.7  # fixed
    reject_threshold: float = 0.4  # fixed
    min_golden: int = 8
    approve_probability: float = 0.95  # calibrated
    reject_probability: float = 0.05  # calibrated


@dataclass(frozen=True)
class Verdict:
    decision: str
    reason: str  # for admins: figures, intervals, reference, rule
    public_reason: str = ""  # for the annotator: plain words
    p_genuine: float | None = None  # posterior from the cumulative evidence (both methods compute it)
    risk: float = 0.5  # how likely the batch is bad work: orders the review queue
    patterns: list[Pattern] = field(default_factory=list)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x > -700 else 0.0


def log_likelihood_ratio(a: Agreement, ref: Reference) -> float | None:
    """log P(observed agreement | genuine) - log P(observed agreement | careless), or None when the
    evidence says nothing (under 4 golden items, a constant side)."""
    if a.srcc is None or a.n_golden < 4:
        return None
    genuine = genuine_logpdf(a.z, a.se, centre_z=ref.centre_z, spread_z=ref.spread_z)
    return float(genuine - careless_logpdf(a.z, a.se, centre_z=ref.centre_z))


def posterior(evidence: dict[str, Agreement], refs: dict[str, Reference], *, prior: float = PRIOR_GENUINE):
    """(P(genuine) over all dimensions, per-dimension P(genuine)); None where no evidence."""
    per_dim: dict[str, float] = {}
    total = 0.0
    for dim, a in evidence.items():
        llr = log_likelihood_ratio(a, refs[dim])
        if llr is None:
            continue
        per_dim[dim] = _sigmoid(_logit(prior) + llr)
        total += llr
    if not per_dim:
        return None, per_dim
    return _sigmoid(_logit(prior) + total), per_dim


PRIOR_WEIGHT = 5  # pseudo-raters behind PRIOR_GENUINE while the campaign has few raters
PRIOR_RANGE = (0.5, 0.95)


def campaign_prior(p_genuine_of_raters: Sequence[float]) -> float:
    """The campaign's own share of genuine raters: the mean of its raters' P(genuine) (each rater counts
    as much as the evidence says), shrunk towards PRIOR_GENUINE while there are few, kept in PRIOR_RANGE.
    In a campaign overrun by careless raters, thin evidence then approves less readily."""
    values = [p for p in p_genuine_of_raters if p is not None and not math.isnan(p)]
    k = len(values)
    share = (PRIOR_WEIGHT * PRIOR_GENUINE + sum(values)) / (PRIOR_WEIGHT + k)
    return min(max(share, PRIOR_RANGE[0]), PRIOR_RANGE[1])


def _interval(a: Agreement) -> str:
    if a.srcc_ci is None:
        return ""
    return f" [{a.srcc_ci[0]:.2f}, {a.srcc_ci[1]:.2f}]"


def _evidence_text(dim: str, cum: Agreement, own: Agreement, ref: Reference | None) -> str:
    if cum.constant == "golden":
        return f"{dim}: golden scores constant over {cum.n_golden} items, no evidence"
    if cum.constant == "ratings":
        return f"{dim}: ratings constant over {cum.n_golden} golden items"
    if cum.srcc is None:
        return f"{dim}: {cum.n_golden} golden item(s) so far, too few for a correlation"
    text = f"{dim} SRCC {cum.srcc:.2f}{_interval(cum)} over {cum.n_golden} golden items so far"
    if own.srcc is not None and own.n_golden != cum.n_golden:
        text += f" (this batch {own.srcc:.2f} over {own.n_golden})"
    elif own.n_golden != cum.n_golden:
        text += f" (this batch: {own.n_golden})"
    if ref is not None:
        lo, hi = ref.typical_range()
        text += f", campaign {ref.centre:.2f} (typical {lo:.2f}-{hi:.2f})"
    return text


PUBLIC_APPROVED = "Approved: your ratings agree well with the reference ratings."
PUBLIC_REVIEW = "An admin will look at this batch."
PUBLIC_EMPTY = "Nothing to check: this batch has no ratings (its time ran out, or every item was skipped)."


def _public_careless(dims: Sequence[str]) -> str:
    which = " and ".join(dims)
    return (
        f"Rejected: your {which} scores did not follow the items closely enough. "
        "Look at each item carefully and use the whole scale."
    )


def decide(
    *,
    settings: Settings,
    dimensions: Sequence[str],
    batch: dict[str, Agreement],
    cumulative: dict[str, Agreement],
    references: dict[str, Reference],
    patterns: Sequence[Pattern] = (),
    golden_source: str = "",
    prior: float = PRIOR_GENUINE,
    n_rated: int | None = None,
) -> Verdict:
    """The automatic decision (pure). ``batch``: this batch's own golden agreement per dimension;
    ``cumulative``: the rater's golden agreement over all their batches in the campaign so far;
    ``prior``: the share of genuine raters expected (:func:`campaign_prior`); ``n_rated``: how many
    ratings the batch holds (None: not known)."""
    p_cum, per_dim = posterior({d: cumulative[d] for d in dimensions}, references, prior=prior)
    if n_rated == 0:
        # Nothing was rated (every lease ran out, or every item was skipped or flagged): nothing can enter a
        # MOS and there is nothing to judge. Approved without a word about agreement, under either method:
        # rejecting would count against someone whose time ran out, and review would fill the admins' queue
        # with batches they cannot decide on anything. The record (p_cum) is passed on unchanged.
        return Verdict(
            APPROVED,
            "no ratings in this batch: nothing to check (every lease ran out, or every item was skipped or flagged)",
            PUBLIC_EMPTY,
            p_cum,
            0.0,
            [],
        )
    p_own, _ = posterior({d: batch[d] for d in dimensions}, references, prior=0.5)
    risk = 1 - p_cum if p_cum is not None else 0.5
    if p_own is not None and p_own <= BATCH_ALARM:
        risk = max(risk, 1 - p_own)
    if settings.method == FIXED:
        verdict = _fixed(settings, dimensions, batch)
        return Verdict(verdict[0], verdict[1], _public_for(verdict[0], [], dimensions), p_cum, risk, list(patterns))
    return _calibrated(
        settings, dimensions, batch, cumulative, references, list(patterns), golden_source, p_cum, per_dim, p_own, risk
    )


def _public_for(decision: str, patterns: Sequence[Pattern], careless_dims: Sequence[str]) -> str:
    if decision == APPROVED:
        return PUBLIC_APPROVED
    if decision == NEEDS_REVIEW:
        return PUBLIC_REVIEW
    if patterns:
        return "Rejected: " + "; ".join(p.public for p in patterns) + "."
    return _public_careless(careless_dims)


def _calibrated(settings, dimensions, batch, cumulative, refs, patterns, golden_source, p_cum, per_dim, p_own, risk):
    texts = [_evidence_text(d, cumulative[d], batch[d], refs.get(d)) for d in dimensions]
    against = f"; against {golden_source}" if golden_source else ""
    evidence = "; ".join(texts) + against
    # Conclusively inverted scale: the whole interval below zero.
    for dim in dimensions:
        cum = cumulative[dim]
        if cum.srcc_ci is not None and cum.n_golden >= settings.min_golden and cum.srcc_ci[1] < 0:
            patterns.append(
                Pattern(
                    "inverted",
                    dim,
                    f"{dim}: the scale is inverted (SRCC {cum.srcc:.2f}{_interval(cum)})",
                    f"your {dim} scores run the wrong way round (5 is best, 1 is worst)",
                )
            )
    p_text = f"P(genuine) {p_cum:.2f}" if p_cum is not None else "P(genuine) unknown"
    if patterns:
        found = "; ".join(p.text for p in patterns)
        return Verdict(
            REJECTED,
            f"spam pattern: {found} ({p_text}; {evidence})",
            _public_for(REJECTED, patterns, dimensions),
            p_cum,
            max(risk, 0.99),
            patterns,
        )
    enough = [d for d in dimensions if cumulative[d].n_golden >= settings.min_golden and cumulative[d].srcc is not None]
    if p_cum is None:
        return Verdict(NEEDS_REVIEW, f"no golden evidence to judge by: {evidence}", PUBLIC_REVIEW, None, risk, [])
    # Disagreement alone rejects only on enough evidence: a genuine rater's first twenty golden items can
    # look bad by chance, and a wrong rejection costs more than a look from an admin.
    conclusive = [d for d in enough if cumulative[d].n_golden >= REJECT_EVIDENCE_FACTOR * settings.min_golden]
    if p_cum <= settings.reject_probability and conclusive:
        careless = [d for d in dimensions if per_dim.get(d, 1) < 0.5] or list(per_dim)
        chance = all(
            cumulative[d].srcc_ci is not None and cumulative[d].srcc_ci[0] <= 0 <= cumulative[d].srcc_ci[1]
            for d in careless
        )
        what = "no better than chance (random ratings)" if chance else "far below the campaign's raters"
        pattern = [Pattern("random", None, what, "")] if chance else []
        return Verdict(
            REJECTED,
            f"{what}: {p_text} <= {settings.reject_probability:g}; {evidence}",
            _public_careless(careless),
            p_cum,
            risk,
            pattern,
        )
    if p_own is not None and p_own <= BATCH_ALARM:
        return Verdict(
            NEEDS_REVIEW,
            f"this batch's own golden ratings look careless (P(genuine) {p_own:.2f} from this "
            f"batch alone) though the record is better ({p_text}); {evidence}",
            PUBLIC_REVIEW,
            p_cum,
            risk,
            [],
        )
    too_few = [
        d for d in dimensions if cumulative[d].n_golden < settings.min_golden and cumulative[d].constant != "golden"
    ]
    leaning = [d for d, p in per_dim.items() if p < 0.5]
    # Constant ratings over enough golden items whose scores vary: the correlation is undefined, so the
    # dimension adds nothing to P(genuine), yet it shows the ratings do not follow the items (one rating
    # that differs would give an SRCC near zero and lean careless). The other dimensions cannot vouch for it.
    flat = [d for d in dimensions if cumulative[d].constant == "ratings" and d not in too_few]
    if flat:
        risk = max(risk, 0.5)
    if p_cum >= settings.approve_probability and not too_few and not leaning and not flat:
        return Verdict(
            APPROVED, f"{p_text} >= {settings.approve_probability:g}: {evidence}", PUBLIC_APPROVED, p_cum, risk, []
        )
    why = []
    if too_few:
        why.append(f"too few golden items so far on {', '.join(too_few)} (< {settings.min_golden})")
    if leaning:
        why.append(f"{', '.join(leaning)} leans careless")
    for d in flat:
        why.append(f"{d} ratings are constant over {cumulative[d].n_golden} golden items (they do not follow them)")
    if not why:
        why.append(f"{p_text} between {settings.reject_probability:g} and {settings.approve_probability:g}")
    return Verdict(NEEDS_REVIEW, f"{'; '.join(why)}: {evidence}", PUBLIC_REVIEW, p_cum, risk, [])


def _fixed(settings: Settings, dimensions: Sequence[str], batch: dict[str, Agreement]) -> tuple[str, str]:
    """Today's rule on the batch's own figures (kept word for word for the paper's literal protocol)."""
    approve_at, reject_below = settings.approve_threshold, settings.reject_threshold
    min_n = max(settings.min_golden, 2)
    rejects, reviews = [], []
    for dim in dimensions:
        f = batch.get(dim) or Agreement(n_golden=0)
        n = f.n_golden
        if n < min_n:
            reviews.append(f"too few golden items on {dim}: {n} < {min_n}")
            continue
        if f.constant == "ratings":
            rejects.append(f"{dim} ratings are constant over {n} golden items: correlation undefined")
            continue
        if f.constant == "golden":
            reviews.append(f"golden scores on {dim} are constant over these {n} items: correlation undefined")
            continue
        for m in settings.measures:
            value = getattr(f, m)
            if value < reject_below:
                rejects.append(f"{dim} {m.upper()} {value:.2f} < reject threshold {reject_below:g}")
            elif value < approve_at:
                reviews.append(f"{dim} {m.upper()} {value:.2f} between thresholds {reject_below:g} and {approve_at:g}")
    if rejects:
        return REJECTED, "; ".join(rejects)
    if reviews:
        return NEEDS_REVIEW, "; ".join(reviews)
    summary = ", ".join(
        f"{dim} " + "/".join(f"{m.upper()} {getattr(batch[dim], m):.2f}" for m in settings.measures)
        for dim in dimensions
    )
    return APPROVED, f"{summary} >= {approve_at:g}"
