"""Commands given a file they cannot use (binary, in a folder that cannot be written): exit code 1 and one
line that says why, nothing stored. A probe of every command with empty, binary, non-UTF-8, malformed,
missing files and folders found these; the rest already said why."""

import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import DatasetVersion, Item
from training.models import TrainingRun

pytestmark = pytest.mark.django_db

BINARY = bytes(range(256)) * 8  # not UTF-8 from its 129th byte


@pytest.mark.parametrize("layout", ["generic", "agiqa3k", "t2vqa-db"])
def test_a_binary_mos_table_is_refused_as_not_utf8_text(campaign, tmp_path, layout):
    table = tmp_path / "table.csv"
    table.write_bytes(b"name,prompt,mos\n" + BINARY)
    with pytest.raises(CommandError, match=r"^table.csv: not UTF-8 text \(save the table as UTF-8 CSV\)$"):
        call_command("import_mos_table", "--campaign", campaign.slug, "--file", str(table), "--layout", layout)
    assert not Item.objects.exists() and not DatasetVersion.objects.exists()


def test_a_binary_scorer_config_is_refused_and_no_run_is_made(version, tmp_path):
    config = tmp_path / "scorer.yaml"
    config.write_bytes(BINARY)
    with pytest.raises(CommandError, match=r"scorer.yaml is not UTF-8 text \(byte 128 is not\): give a text file$"):
        call_command("train_scorer", "--version", str(version.pk), "--config", str(config))
    assert not TrainingRun.objects.exists()


def test_a_backup_into_a_folder_that_cannot_be_made_or_written_says_so_first(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(CommandError, match=r"^cannot write .*a-file/b.tar: File exists$"):
        call_command("backup", "--out", str(blocker / "b.tar"), "--no-media")
    if os.geteuid() != 0:  # root writes anywhere: the read-only folder only binds other users
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(CommandError, match="cannot write .*: Permission denied"):
            call_command("backup", "--out", str(locked / "b.tar"), "--no-media")
    (tmp_path / "c.tar.partial").write_text("")
    with pytest.raises(CommandError, match="c.tar.partial exists: a backup to .* is being written, or one was stopped"):
        call_command("backup", "--out", str(tmp_path / "c.tar"), "--no-media")
    assert not (tmp_path / "c.tar").exists()


def test_a_nul_character_in_an_imported_row_is_named_with_its_line_and_nothing_is_stored(campaign, tmp_path):
    """PostgreSQL stores no NUL in text: the readers name the row, and what reaches the database anyway (a
    golden file's item id) is one line, not a traceback."""
    from annotation.models import GoldenScore, Job
    from generation.models import PromptSetEntry

    manifest = tmp_path / "manifest.csv"
    manifest.write_bytes(
        b"item_id,media_path,media_type,prompt,generator\nbad,a.png,image,p\x00,g\nok,a.png,image,p,g\n"
    )
    with pytest.raises(CommandError, match=r"^manifest.csv line 2: a NUL character \(\\0\) in the row"):
        call_command("import_items", "--campaign", campaign.slug, "--manifest", str(manifest))
    assert not Item.objects.exists()
    assert Job.objects.get(kind="import_items").error.startswith("manifest.csv line 2: a NUL character")
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"text": "fine"}\n{"text": "a cat", "tags": ["x\\u0000"]}\n')
    with pytest.raises(CommandError, match=r"^prompts.jsonl line 2: a NUL character"):
        call_command("import_prompts", "--campaign", campaign.slug, "--file", str(prompts))
    assert not PromptSetEntry.objects.exists()
    golden = tmp_path / "golden.csv"
    golden.write_bytes(b"item_id,quality\nx\x00y,3\n")
    with pytest.raises(
        CommandError, match=r"^a value cannot be stored \(a NUL character in text, or a number out of range\)"
    ):
        call_command("import_golden", "--campaign", campaign.slug, "--file", str(golden))
    assert not GoldenScore.objects.exists()


from tests.mos.conftest import rated, version  # noqa: E402,F401
