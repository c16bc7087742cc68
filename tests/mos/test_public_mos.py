"""import_mos_table: a tiny hand-made AGIQA-3K data.csv with real images, and the generic layout."""

import csv
import json

import pytest
from django.core.management import CommandError, call_command

from annotation.models import DatasetVersion, Item, ItemScore
from tests.factories import make_png


def _agiqa(tmp_path, rows):
    (tmp_path / "img").mkdir(exist_ok=True)
    with open(tmp_path / "data.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "prompt", "adj1", "adj2", "style", "mos_quality", "std_quality", "mos_align", "std_align"])
        for k, (name, prompt, mq, sq, ma, sa) in enumerate(rows):
            (tmp_path / "img" / name).write_bytes(make_png(color=(20 * k, 50, 90)))
            w.writerow([name, prompt, "", "", "", mq, sq, ma, sa])
    return tmp_path / "data.csv"


ROWS = [
    ("midjourney_normal_001.png", "a castle in the clouds", 4.5, 0.5, 3.0, 1.0),
    ("sd1.5_lowstep_002.png", "a dog riding a bike", 0.5, 0.25, 5.0, 0.0),
    ("midjourney_normal_003.png", "an old man reading", 2.5, 1.0, 2.5, 0.5),
]


def test_agiqa3k_import_makes_items_and_an_imported_version(campaign, tmp_path):
    path = _agiqa(tmp_path, ROWS)
    call_command(
        "import_mos_table",
        "--campaign",
        campaign.slug,
        "--file",
        str(path),
        "--layout",
        "agiqa3k",
        "--media-root",
        str(tmp_path / "img"),
    )
    version = DatasetVersion.objects.get(campaign=campaign)
    assert (version.source, version.method, version.params["scale"]) == ("imported", "imported", [0.0, 5.0])
    items = {i.item_id: i for i in Item.objects.filter(campaign=campaign).select_related("generator", "prompt")}
    assert set(items) == {r[0] for r in ROWS}
    assert items["sd1.5_lowstep_002.png"].generator.name == "sd1.5"
    assert items["midjourney_normal_001.png"].prompt.text == "a castle in the clouds"
    scores = {
        (s.item.item_id, s.dimension): s for s in ItemScore.objects.filter(version=version).select_related("item")
    }
    q = scores[("midjourney_normal_001.png", "quality")]
    assert q.mos == pytest.approx(1 + 4 * 4.5 / 5) and q.std == pytest.approx(0.5 * 4 / 5) and q.ci95 is None
    assert scores[("sd1.5_lowstep_002.png", "alignment")].mos == pytest.approx(5.0)
    assert len(scores) == 6


def test_imported_version_exports_like_our_own(campaign, tmp_path):
    path = _agiqa(tmp_path, ROWS)
    call_command(
        "import_mos_table",
        "--campaign",
        campaign.slug,
        "--file",
        str(path),
        "--layout",
        "agiqa3k",
        "--media-root",
        str(tmp_path / "img"),
    )
    call_command("export_dataset", "--campaign", campaign.slug, "--format", "sft", "--out", str(tmp_path / "out"))
    recs = [json.loads(x) for x in (tmp_path / "out" / "sft.jsonl").read_text().splitlines()]
    assert len(recs) == 6 and all((tmp_path / "out" / r["media"]).is_file() for r in recs)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["dataset_version"]["source"] == "imported"


def test_reimport_reuses_items_and_makes_a_second_version(campaign, tmp_path):
    path = _agiqa(tmp_path, ROWS)
    for _ in range(2):
        call_command(
            "import_mos_table",
            "--campaign",
            campaign.slug,
            "--file",
            str(path),
            "--layout",
            "agiqa3k",
            "--media-root",
            str(tmp_path / "img"),
        )
    assert Item.objects.filter(campaign=campaign).count() == 3
    assert list(
        DatasetVersion.objects.filter(campaign=campaign).values_list("number", flat=True).order_by("number")
    ) == [1, 2]


def test_value_outside_the_scale_fails_and_imports_nothing(campaign, tmp_path):
    path = _agiqa(tmp_path, ROWS + [("x_y_004.png", "too good", 7.0, 0.1, 3.0, 0.1)])
    with pytest.raises(CommandError, match="outside the declared scale"):
        call_command(
            "import_mos_table",
            "--campaign",
            campaign.slug,
            "--file",
            str(path),
            "--layout",
            "agiqa3k",
            "--media-root",
            str(tmp_path / "img"),
        )
    assert not Item.objects.exists() and not DatasetVersion.objects.exists()


def test_missing_image_fails_and_imports_nothing(campaign, tmp_path):
    path = _agiqa(tmp_path, ROWS)
    (tmp_path / "img" / ROWS[1][0]).unlink()
    with pytest.raises(CommandError):
        call_command(
            "import_mos_table",
            "--campaign",
            campaign.slug,
            "--file",
            str(path),
            "--layout",
            "agiqa3k",
            "--media-root",
            str(tmp_path / "img"),
        )
    assert not Item.objects.exists() and not DatasetVersion.objects.exists()


def test_generic_layout_with_a_mapping_and_n(campaign, tmp_path):
    (tmp_path / "a.png").write_bytes(make_png())
    (tmp_path / "b.png").write_bytes(make_png(color=(1, 2, 3)))
    (tmp_path / "t.csv").write_text("id,file,text,q,qs,qn\nA,a.png,a cat,4.0,0.5,10\nB,b.png,a dog,2.0,1.0,4\n")
    call_command(
        "import_mos_table",
        "--campaign",
        campaign.slug,
        "--file",
        str(tmp_path / "t.csv"),
        "--layout",
        "generic",
        "--map",
        "id=item_id",
        "--map",
        "file=media_path",
        "--map",
        "text=prompt",
        "--map",
        "q=quality_mos",
        "--map",
        "qs=quality_std",
        "--map",
        "qn=quality_n",
        "--generator",
        "gen-x",
    )
    s = ItemScore.objects.get(item__item_id="A")
    from scipy import stats

    assert (s.mos, s.n) == (4.0, 10) and s.ci95 == pytest.approx(stats.t.ppf(0.975, 9) * 0.5 / 10**0.5)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--layout", "generic", "--map", "id=nonsense"], "unknown field"),
        (["--layout", "generic", "--map", "idonly"], "malformed --map"),
        (["--layout", "agiqa3k", "--scale", "5,0"], "hi > lo"),
        (["--layout", "generic", "--map", "name=item_id"], "prompt"),
    ],
)
def test_bad_import_arguments(campaign, tmp_path, args, message):
    path = _agiqa(tmp_path, ROWS)
    with pytest.raises(CommandError, match=message):
        call_command(
            "import_mos_table",
            "--campaign",
            campaign.slug,
            "--file",
            str(path),
            "--media-root",
            str(tmp_path / "img"),
            *args,
        )
    assert not Item.objects.exists()
