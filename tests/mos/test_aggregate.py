"""mos_aggregate end to end on hand-made ratings: values, exclusions, methods, immutability, checksum."""

import hashlib

import numpy as np
import pytest
from scipy import stats

from annotation.aggregation import METHODS
from annotation.models import AnnotatorStat, DatasetVersion, ItemScore
from annotation.services.mos import mos_aggregate
from core.errors import InvalidInput
from tests.factories import UserFactory

from .conftest import rate


def _scores(version):
    return {(s.item_id, s.dimension): s for s in ItemScore.objects.filter(version=version)}


def test_mean_mos_std_and_student_t_ci_match_scipy(rated):
    campaign, items, annotators, table = rated
    version = mos_aggregate(campaign=campaign)
    scores = _scores(version)
    assert len(scores) == 6
    for i, item in enumerate(items):
        for d, dim in enumerate(("quality", "alignment")):
            values = np.array([r[d] for r in table[i]], dtype=float)
            s = scores[(item.pk, dim)]
            sem = stats.sem(values)
            lo, hi = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=sem)
            assert s.n == 4
            assert s.mos == pytest.approx(values.mean())
            assert s.std == pytest.approx(values.std(ddof=1))
            assert s.ci95 == pytest.approx((hi - lo) / 2)


def test_only_approved_annotation_batches_count(rated):
    campaign, items, annotators, table = rated
    version = mos_aggregate(campaign=campaign)
    assert version.counts["ratings"] == 12  # 4 annotators x 3 items; the 1s of the other batches are out
    assert version.counts["annotators"] == 4
    assert set(AnnotatorStat.objects.filter(version=version).values_list("annotator_id", flat=True)) == {
        a.pk for a in annotators
    }


def test_imported_batches_count(rated):
    campaign, items, annotators, table = rated
    vendor = UserFactory(role=None)
    rate(campaign, vendor, {items[0]: (1, 1)}, kind="imported")
    version = mos_aggregate(campaign=campaign)
    s = _scores(version)[(items[0].pk, "quality")]
    assert (s.n, s.mos) == (5, pytest.approx((5 + 4 + 5 + 4 + 1) / 5))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_writes_a_version_with_scores_and_stats(rated, method):
    campaign, items, annotators, table = rated
    version = mos_aggregate(campaign=campaign, method=method)
    scores = _scores(version)
    assert version.method == method and version.number == 1
    assert len(scores) == 6
    for s in scores.values():
        assert 1.0 <= s.mos <= 5.0 and s.n >= 1
    # Every method keeps the order of clearly different items: item 0 high, item 1 low.
    assert (
        scores[(items[0].pk, "quality")].mos
        > scores[(items[2].pk, "quality")].mos
        > scores[(items[1].pk, "quality")].mos
    )
    assert AnnotatorStat.objects.filter(version=version).count() == 8


def test_an_annotators_offset_shows_as_bias(db, campaign):
    from tests.factories import ItemFactory

    items = [ItemFactory(campaign=campaign) for _ in range(4)]
    base = [1, 2, 3, 4]
    for offset in (0, 0, 1):  # the third annotator rates everything one point higher
        rate(campaign, UserFactory(), {it: (b + offset, b + offset) for it, b in zip(items, base)})
    mean_v = mos_aggregate(campaign=campaign, method="mean")
    stats_ = {a.annotator_id: a for a in AnnotatorStat.objects.filter(version=mean_v, dimension="quality")}
    assert max(s.bias for s in stats_.values()) > 0.5  # the shifted annotator shows a positive bias


def test_versions_are_numbered_and_immutable(rated):
    campaign, items, annotators, table = rated
    v1 = mos_aggregate(campaign=campaign)
    before = sorted(ItemScore.objects.filter(version=v1).values_list("item_id", "dimension", "mos", "n"))
    rate(campaign, UserFactory(), {items[0]: (1, 1)})
    v2 = mos_aggregate(campaign=campaign)
    assert (v1.number, v2.number) == (1, 2)
    after = sorted(ItemScore.objects.filter(version=v1).values_list("item_id", "dimension", "mos", "n"))
    assert before == after  # the old version did not move
    assert v1.checksum != v2.checksum


def test_checksum_is_sha256_over_sorted_rows(rated):
    campaign, *_ = rated
    version = mos_aggregate(campaign=campaign)
    rows = sorted(ItemScore.objects.filter(version=version).values_list("item_id", "dimension", "mos", "n"))
    text = "".join(f"{i}\t{d}\t{m:.6f}\t{n}\n" for i, d, m, n in rows)
    assert version.checksum == hashlib.sha256(text.encode()).hexdigest()
    again = mos_aggregate(campaign=campaign)
    assert again.checksum == version.checksum  # same ratings, same content


def test_bad_method_or_params_write_nothing(rated):
    campaign, *_ = rated
    with pytest.raises(InvalidInput, match="unknown aggregation method"):
        mos_aggregate(campaign=campaign, method="median")
    with pytest.raises(InvalidInput):
        mos_aggregate(campaign=campaign, method="mle", params={"no_such_param": 1})
    assert not DatasetVersion.objects.exists()


def test_a_campaign_without_approved_ratings_makes_no_version(db, campaign):
    from tests.factories import ItemFactory

    item = ItemFactory(campaign=campaign)
    rate(campaign, UserFactory(), {item: (3, 3)}, decision="pending")
    with pytest.raises(InvalidInput, match="no approved ratings"):
        mos_aggregate(campaign=campaign)
    assert not DatasetVersion.objects.exists()


def test_mle_group_prior_groups_items_by_their_generator(rated):
    """The service passes each item's generator as its group: gen-a holds items 0 and 2, gen-b item 1."""
    campaign, items, annotators, table = rated
    version = mos_aggregate(campaign=campaign, method="mle", params={"group_prior": True, "group_min_items": 2})
    info = version.counts["dimensions"]["quality"]["info"]["group_prior"]
    assert info["groups"] == 1 and info["shrunk_items"] == 2  # gen-b has one item: too few for a prior
    plain = _scores(mos_aggregate(campaign=campaign, method="mle"))
    prior = _scores(version)
    a0, a2, b1 = ((items[i].pk, "quality") for i in (0, 2, 1))
    assert prior[b1].mos == pytest.approx(plain[b1].mos)  # alone in its generator: unchanged
    # The two gen-a items move towards each other and keep their order.
    assert abs(prior[a0].mos - prior[a2].mos) < abs(plain[a0].mos - plain[a2].mos)
    assert prior[a0].mos > prior[a2].mos
    assert version.params["group_prior"] is True
