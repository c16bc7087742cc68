"""Prompt sets: the built-in taxonomy, imports (deduplicated, word counts, long prompts), bad input refused whole,
campaigns' own taxonomies."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Prompt
from generation.models import PromptClassification, PromptSetEntry, Taxonomy
from generation.services.prompts import prompt_set_ensure, prompts_import, text_normalize

from .conftest import PROMPTS

TABLE7_LEAVES = {
    "Entity Generation": ["human", "object", "other", "character information", "text and symbol", "chart"],
    "Interaction Ability": ["sequential relationships", "causal relationships", "spatial relationships"],
}


def snapshot():
    return Prompt.objects.count(), PromptSetEntry.objects.count(), PromptClassification.objects.count()


@pytest.mark.django_db
def test_the_papers_taxonomy_is_built_in_as_data():
    taxonomy = Taxonomy.objects.get(slug="qeval-table7")
    assert taxonomy.is_builtin and taxonomy.campaign is None
    entries = list(taxonomy.entries.values_list("category", "group", "subcategory"))
    assert len(entries) == 31
    for category, leaves in TABLE7_LEAVES.items():
        assert [s for c, _, s in entries if c == category] == leaves
    attributes = [s for c, _, s in entries if c == "Entity Attribute Generation"]
    assert attributes[:4] == ["shape", "position", "color", "state"]
    assert {
        "emotion",
        "action",
        "age",
        "gender",
        "portrait",
        "scene and theme",
        "style",
        "depth of field",
        "camera angle",
    } <= set(attributes)
    assert ("Entity Generation", "complex", "chart") in entries
    assert all(e.keywords for e in taxonomy.entries.all())


@pytest.mark.django_db
def test_import_counts_words_marks_long_prompts_and_records_given_categories(campaign, prompt_files):
    prompt_set = prompt_set_ensure(campaign=campaign, name="Main set")
    result = prompts_import(prompt_set=prompt_set, path=prompt_files.csv(PROMPTS))
    assert prompt_set.slug == "main-set"
    assert (result["rows"], result["added"], result["long_prompts"], result["without_category"]) == (4, 4, 1, 3)
    cube = Prompt.objects.get(text="A red cube on a wooden table")
    assert (cube.category, cube.subcategory, cube.word_count) == ("Entity Generation", "object", 7)
    assert cube.classification.method == "given"
    entry = PromptSetEntry.objects.get(prompt=cube)
    assert entry.tags == ["simple", "color"] and entry.source_line == 2
    long_one = Prompt.objects.get(text__startswith="a bar chart")
    assert long_one.word_count > 25


@pytest.mark.django_db
def test_exact_and_normalised_duplicates_are_skipped_and_counted(campaign, prompt_files):
    rows = [{"text": "A red cube."}, {"text": "A red cube."}, {"text": "a  RED cube"}, {"text": "a blue cube"}]
    prompt_set = prompt_set_ensure(campaign=campaign, name="dups")
    result = prompts_import(prompt_set=prompt_set, path=prompt_files.jsonl(rows))
    assert (result["added"], result["duplicates_exact"], result["duplicates_normalised"]) == (2, 1, 1)
    assert result["duplicate_examples"] == ["line 2 repeats line 1", "line 3 repeats line 1"]
    again = prompts_import(
        prompt_set=prompt_set, path=prompt_files.jsonl([{"text": "a red cube!"}, {"text": "a green cube"}], "b.jsonl")
    )
    assert (again["added"], again["already_in_set"]) == (1, 1)
    assert text_normalize("  A Red-Cube!! ") == text_normalize("a red cube") == "a red cube"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"text": "ok"}, {"text": "  ", "tags": "x"}], "prompts.csv line 4: empty text"),
        ([{"text": "ok", "category": "Animals"}], "line 3: category 'Animals' is not in taxonomy 'qeval-table7'"),
        (
            [{"text": "ok", "category": "Entity Generation", "subcategory": "color"}],
            "subcategory 'color' is not under 'Entity Generation'",
        ),
        ([{"text": "x" * 10_001}], "more than the limit of 4000"),
    ],
)
def test_a_bad_row_refuses_the_whole_file(campaign, prompt_files, rows, message):
    prompt_set = prompt_set_ensure(campaign=campaign, name="bad")
    before = snapshot()
    with pytest.raises(Exception) as err:
        prompts_import(prompt_set=prompt_set, path=prompt_files.csv([{"text": "a fine prompt"}, *rows]))
    assert message in str(err.value)
    assert snapshot() == before


@pytest.mark.django_db
def test_a_subcategory_alone_finds_its_category_and_names_are_matched_loosely(campaign, prompt_files):
    prompt_set = prompt_set_ensure(campaign=campaign, name="loose")
    prompts_import(
        prompt_set=prompt_set,
        path=prompt_files.csv(
            [
                {"text": "two cats", "subcategory": "Spatial-Relationships"},
                {"text": "a lake", "category": "entity generation", "subcategory": "OTHER"},
            ]
        ),
    )
    assert Prompt.objects.get(text="two cats").category == "Interaction Ability"
    assert Prompt.objects.get(text="a lake").subcategory == "other"


@pytest.mark.django_db
def test_a_category_that_contradicts_an_existing_prompt_is_refused(campaign, prompt_files):
    first = prompt_set_ensure(campaign=campaign, name="one")
    prompts_import(
        prompt_set=first,
        path=prompt_files.csv([{"text": "a dog", "category": "Entity Generation", "subcategory": "other"}]),
    )
    second = prompt_set_ensure(campaign=campaign, name="two")
    before = snapshot()
    with pytest.raises(Exception, match="exists already with category 'Entity Generation'"):
        prompts_import(
            prompt_set=second, path=prompt_files.csv([{"text": "a dog", "category": "Interaction Ability"}], "b.csv")
        )
    assert snapshot() == before


@pytest.mark.django_db
def test_the_command_imports_and_classifies_and_bad_files_exit_with_one_line(campaign, prompt_files):
    out = io.StringIO()
    call_command(
        "import_prompts",
        "--campaign",
        campaign.slug,
        "--file",
        str(prompt_files.csv(PROMPTS)),
        "--set",
        "main",
        "--classify",
        "rules",
        stdout=out,
        stderr=io.StringIO(),
    )
    text = out.getvalue()
    assert "prompt set 'main': 4 prompts added from 4 rows" in text and "1 long (> 25 words)" in text
    assert "classified 3: 3 by rules" in text
    assert Prompt.objects.get(text__startswith="A neon sign").subcategory == "text and symbol"
    assert Prompt.objects.get(text__startswith="a bar chart").subcategory == "chart"
    bad = prompt_files.root / "bad.txt"
    bad.write_text("text\nx\n")
    with pytest.raises(CommandError, match="a prompt file must be .csv or .jsonl"):
        call_command(
            "import_prompts",
            "--campaign",
            campaign.slug,
            "--file",
            str(bad),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    with pytest.raises(CommandError, match="campaign"):
        call_command(
            "import_prompts", "--campaign", "nope", "--file", str(bad), stdout=io.StringIO(), stderr=io.StringIO()
        )


@pytest.mark.django_db
def test_a_campaign_brings_its_own_taxonomy(campaign, prompt_files):
    path = prompt_files.root / "mine.csv"
    path.write_text(
        "category,group,subcategory,keywords,target\nAnimals,,dogs,dog;puppy,5\nAnimals,,cats,cat;kitten,5\n"
        "Scenes,,night,night;dark,\n"
    )
    out = io.StringIO()
    call_command("import_taxonomy", "--campaign", campaign.slug, "--file", str(path), "--slug", "pets", stdout=out)
    assert "taxonomy 'pets': 3 subcategories in 2 categories" in out.getvalue()
    taxonomy = Taxonomy.objects.get(slug="pets")
    assert taxonomy.campaign == campaign and taxonomy.entries.get(subcategory="dogs").target == 5
    prompt_set = prompt_set_ensure(campaign=campaign, name="pets", taxonomy_slug="pets")
    prompts_import(
        prompt_set=prompt_set,
        path=prompt_files.csv([{"text": "a puppy at night", "category": "Animals", "subcategory": "dogs"}]),
    )
    broken = prompt_files.root / "broken.csv"
    broken.write_text("category,subcategory\nAnimals,\n")
    with pytest.raises(CommandError, match="broken.csv entry 1: empty subcategory"):
        call_command("import_taxonomy", "--campaign", campaign.slug, "--file", str(broken), stdout=io.StringIO())
    shrunk = prompt_files.root / "shrunk.csv"
    shrunk.write_text("category,subcategory\nAnimals,cats\n")
    with pytest.raises(CommandError, match="used by prompt sets; the new file drops Animals / dogs"):
        call_command(
            "import_taxonomy",
            "--campaign",
            campaign.slug,
            "--file",
            str(shrunk),
            "--slug",
            "pets",
            stdout=io.StringIO(),
        )
