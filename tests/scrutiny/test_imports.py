"""import_golden and import_ratings: all or nothing, a one-line error naming the row."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from annotation.models import Batch, GoldenScore, Item, Rating
from tests.factories import CampaignFactory, ItemFactory, UserFactory
from tests.scrutiny.conftest import GOLDEN_A, GOLDEN_Q, make_golden, rounded

User = get_user_model()


def snapshot():
    """Everything an import may touch."""
    return (
        sorted(GoldenScore.objects.values_list("item_id", "dimension", "score", "source")),
        sorted(Item.objects.values_list("pk", "is_golden", "active_count")),
        Rating.objects.count(),
        Batch.objects.count(),
        User.objects.count(),
    )


@pytest.fixture
def items(db):
    campaign = CampaignFactory(min_golden=8)
    return campaign, [ItemFactory(campaign=campaign, item_id=f"img-{i}") for i in range(12)]


def write(tmp_path, text):
    path = tmp_path / "in.csv"
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------------------- import_golden


def test_import_golden_sets_scores_and_marks_items_golden(items, tmp_path, capsys):
    campaign, its = items
    path = write(tmp_path, "item_id,quality,alignment\nimg-0,4.5,3\nimg-1,,2\nimg-2,1,\n")
    call_command("import_golden", campaign=campaign.slug, file=path)
    assert sorted(GoldenScore.objects.values_list("item__item_id", "dimension", "score", "source")) == [
        ("img-0", "alignment", 3.0, "imported"),
        ("img-0", "quality", 4.5, "imported"),
        ("img-1", "alignment", 2.0, "imported"),
        ("img-2", "quality", 1.0, "imported"),
    ]
    assert sorted(Item.objects.filter(is_golden=True).values_list("item_id", flat=True)) == ["img-0", "img-1", "img-2"]
    assert "imported 4 golden scores for 3 items" in capsys.readouterr().out


def test_import_golden_replaces_an_earlier_score(items, tmp_path):
    campaign, _ = items
    call_command("import_golden", campaign=campaign.slug, file=write(tmp_path, "item_id,quality\nimg-0,2\n"))
    call_command("import_golden", campaign=campaign.slug, file=write(tmp_path, "item_id,quality\nimg-0,3.5\n"))
    assert list(GoldenScore.objects.values_list("score", flat=True)) == [3.5]


@pytest.mark.parametrize(
    "body, message",
    [
        ("img-0,4,4\nnope,3,3\n", "line 3 (item_id 'nope'): no such item in campaign"),
        ("img-0,4,4\nimg-1,6,3\n", "line 3 (item_id 'img-1'): quality 6 is outside 1-5"),
        ("img-0,4,4\nimg-1,good,3\n", "line 3 (item_id 'img-1'): quality 'good' is not a number"),
        ("img-0,4,4\nimg-1,,\n", "line 3 (item_id 'img-1'): no score on any dimension"),
        ("img-0,4,4\nimg-0,3,3\n", "line 3 (item_id 'img-0'): the item is listed twice (first on line 2)"),
    ],
)
def test_a_bad_golden_row_rejects_the_whole_file(items, tmp_path, body, message):
    campaign, _ = items
    before = snapshot()
    with pytest.raises(CommandError) as exc:
        call_command(
            "import_golden", campaign=campaign.slug, file=write(tmp_path, "item_id,quality,alignment\n" + body)
        )
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)
    assert snapshot() == before


# ------------------------------------------------------------------------------ import_ratings


def vendor_csv(golden, name="vendor-a", label="", flip=False):
    q = [6 - r for r in rounded(GOLDEN_Q)] if flip else rounded(GOLDEN_Q)
    return "".join(f"{name},{i.item_id},{a},{b},{label}\n" for i, a, b in zip(golden, q, rounded(GOLDEN_A)))


def test_import_ratings_makes_one_scrutinized_batch_per_annotator_and_label(tmp_path, capsys, db):
    campaign = CampaignFactory(min_golden=8)
    golden = make_golden(campaign)
    body = vendor_csv(golden, "vendor-a", "wk1") + vendor_csv(golden, "vendor-b", "wk1", flip=True)
    call_command(
        "import_ratings",
        campaign=campaign.slug,
        file=write(tmp_path, "annotator,item_id,quality,alignment,batch\n" + body),
    )
    batches = {b.annotator.username: b for b in Batch.objects.select_related("annotator")}
    assert {n: (b.kind, b.status, b.external_ref, b.decision) for n, b in batches.items()} == {
        "vendor-a": ("imported", "closed", "wk1", "approved"),
        "vendor-b": ("imported", "closed", "wk1", "rejected"),
    }
    assert Rating.objects.filter(batch=batches["vendor-a"]).count() == 10
    # vendor-b was rejected: its ratings stay stored but are not counted any more
    assert Item.objects.aggregate(s=Sum("active_count"))["s"] == 10
    vendor = User.objects.get(username="vendor-a")
    assert not vendor.has_usable_password() and vendor.annotator_profile.is_vendor
    out = capsys.readouterr().out
    assert "vendor-a" in out and "approved" in out and "rejected" in out and "imported 2 batches" in out


def test_rows_without_a_batch_label_share_one_batch_per_annotator(tmp_path, db):
    campaign = CampaignFactory(min_golden=8)
    golden = make_golden(campaign)
    call_command(
        "import_ratings",
        campaign=campaign.slug,
        file=write(tmp_path, "annotator,item_id,quality,alignment\n" + vendor_csv(golden).replace(",\n", "\n")),
    )
    assert list(Batch.objects.values_list("external_ref", "decision")) == [("", "approved")]


@pytest.mark.parametrize(
    "row, message",
    [
        ("vendor-a,nope,3,3", "line 3 (annotator 'vendor-a', item_id 'nope'): no such item in campaign"),
        ("vendor-a,img-1,0,3", "line 3 (annotator 'vendor-a', item_id 'img-1'): quality 0 is outside 1-5"),
        ("vendor-a,img-1,3.5,3", "line 3 (annotator 'vendor-a', item_id 'img-1'): quality '3.5' is not an integer"),
        (
            "vendor-a,img-1,,",
            "line 3 (annotator 'vendor-a', item_id 'img-1'): no score (quality and alignment are both empty)",
        ),
        ("vendor-a,img-0,2,2", "line 3 (annotator 'vendor-a', item_id 'img-0'): this annotator rates this item twice"),
        ("bad name!,img-1,2,2", "line 3 (annotator 'bad name!', item_id 'img-1'): annotator must be a name"),
    ],
)
def test_a_bad_rating_row_rejects_the_whole_file(items, tmp_path, row, message):
    campaign, _ = items
    before = snapshot()
    with pytest.raises(CommandError) as exc:
        call_command(
            "import_ratings",
            campaign=campaign.slug,
            file=write(tmp_path, f"annotator,item_id,quality,alignment\nvendor-a,img-0,3,3\n{row}\n"),
        )
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)
    assert snapshot() == before


def test_ratings_already_imported_for_that_annotator_are_refused(items, tmp_path):
    campaign, _ = items
    call_command(
        "import_ratings", campaign=campaign.slug, file=write(tmp_path, "annotator,item_id,quality\nvendor-a,img-0,3\n")
    )
    before = snapshot()
    with pytest.raises(CommandError) as exc:
        call_command(
            "import_ratings",
            campaign=campaign.slug,
            file=write(tmp_path, "annotator,item_id,quality\nvendor-a,img-1,3\nvendor-a,img-0,4\n"),
        )
    assert (
        str(exc.value) == "line 3 (annotator 'vendor-a', item_id 'img-0'): this annotator has already rated this item"
    )
    assert snapshot() == before


def test_a_platform_account_cannot_receive_vendor_ratings(items, tmp_path):
    campaign, _ = items
    UserFactory(username="alice", role="annotator")
    before = snapshot()
    with pytest.raises(CommandError, match="'alice' is an existing platform account"):
        call_command(
            "import_ratings", campaign=campaign.slug, file=write(tmp_path, "annotator,item_id,quality\nalice,img-0,3\n")
        )
    assert snapshot() == before
