"""Score formula and both loss terms against hand computations on known logits."""

import math

import pytest

torch = pytest.importorskip("torch")

from training.scorer.prompts import LEVELS, level_from_mos, score_from_probabilities  # noqa: E402
from training.scorer.scoring import expected_score, level_probabilities, level_token_ids, scorer_loss  # noqa: E402

LEVEL_IDS = [3, 5, 7, 1, 0]  # arbitrary vocab positions of Excellent..Bad in a 10-token vocab


def _logits():
    lg = torch.zeros(2, 10)
    lg[0, LEVEL_IDS] = torch.tensor([2.0, 1.0, 0.0, -1.0, -2.0])
    lg[0, 9] = 5.0  # a non-level token: ignored by the score, counted by vocab CE
    lg[1, LEVEL_IDS] = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0])
    return lg


def _hand_probs(vals):
    e = [math.exp(v) for v in vals]
    return [x / sum(e) for x in e]


def test_score_formula_by_hand():
    p0 = _hand_probs([2, 1, 0, -1, -2])
    want0 = 1 + 4 * (p0[0] * 1 + p0[1] * 0.75 + p0[2] * 0.5 + p0[3] * 0.25)
    probs = level_probabilities(_logits(), LEVEL_IDS)
    scores = expected_score(probs)
    assert probs[0].tolist() == pytest.approx(p0, abs=1e-6)
    assert scores[0].item() == pytest.approx(want0, abs=1e-5)
    assert scores[1].item() == pytest.approx(3.0, abs=1e-6)  # uniform -> 1 + 4 * 0.5
    assert score_from_probabilities(p0) == pytest.approx(want0, abs=1e-6)


def test_loss_terms_by_hand():
    lg = _logits()
    target = torch.tensor([LEVELS.index("Good"), LEVELS.index("Bad")])
    mos = torch.tensor([4.0, 1.5])
    p0 = _hand_probs([2, 1, 0, -1, -2])
    s0 = 1 + 4 * (p0[0] + 0.75 * p0[1] + 0.5 * p0[2] + 0.25 * p0[3])
    s1 = 3.0
    # vocab CE: -log softmax over all 10 logits at the target word's id
    row0 = lg[0].tolist()
    ce0 = -(row0[LEVEL_IDS[1]] - math.log(sum(math.exp(v) for v in row0)))
    ce1 = -(0.0 - math.log(10))
    out = scorer_loss(lg, LEVEL_IDS, target, mos, ce_weight=1.0, mse_weight=0.5)
    assert out.ce.item() == pytest.approx((ce0 + ce1) / 2, abs=1e-5)
    assert out.mse.item() == pytest.approx(((s0 - 4.0) ** 2 + (s1 - 1.5) ** 2) / 2, abs=1e-5)
    assert out.loss.item() == pytest.approx(out.ce.item() + 0.5 * out.mse.item(), abs=1e-5)
    # CE over the five level words only
    lv = scorer_loss(lg, LEVEL_IDS, target, mos, ce_over="levels")
    assert lv.ce.item() == pytest.approx((-math.log(p0[1]) - math.log(0.2)) / 2, abs=1e-5)
    # unit scale MSE = MOS-scale MSE / 16
    un = scorer_loss(lg, LEVEL_IDS, target, mos, mse_scale="unit")
    assert un.mse.item() == pytest.approx(out.mse.item() / 16, abs=1e-6)


def test_terms_switch_off_and_gradients_flow():
    lg = _logits().requires_grad_(True)
    target = torch.tensor([0, 4])
    mos = torch.tensor([5.0, 1.0])
    only_ce = scorer_loss(lg, LEVEL_IDS, target, mos, mse_weight=0.0)
    assert only_ce.mse.item() == 0 and only_ce.loss.item() == pytest.approx(only_ce.ce.item())
    only_mse = scorer_loss(lg, LEVEL_IDS, target, mos, ce_weight=0.0)
    assert only_mse.ce.item() == 0 and only_mse.loss.item() == pytest.approx(only_mse.mse.item())
    only_mse.loss.backward()
    assert lg.grad[0, 9].item() == 0  # MSE only sees the five level logits
    assert lg.grad[0, LEVEL_IDS[0]].item() != 0


def test_level_from_mos_bins():
    assert [level_from_mos(m) for m in (1.0, 1.79, 1.8, 2.6, 3.4, 4.2, 5.0)] == [
        "Bad",
        "Bad",
        "Poor",
        "Fair",
        "Good",
        "Excellent",
        "Excellent",
    ]


def test_level_token_ids_on_tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    ids = level_token_ids(tok)
    assert len(set(ids)) == 5
    assert [tok.decode([i]) for i in ids] == list(LEVELS)
