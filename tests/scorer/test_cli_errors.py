"""`python -m training.scorer` on a GPU box: what a person can mend (a bad config, a missing or unreadable file, a
malformed items file) is one line on stderr naming the command, and exit code 1, not a traceback."""

import pytest

from training.scorer.cli import main


@pytest.mark.parametrize(
    "argv,content,message",
    [
        (["train", "--config", "{f}"], bytes(range(256)), "{f}: not a YAML text file (not UTF-8)"),
        (["train", "--config", "{f}"], b"- 1\n- 2\n", "{f}: the YAML top level must be a mapping"),
        (["train", "--config", "{f}"], None, "{f}: no such config file"),
        (["train", "lr=0.1"], None, "unknown scorer config key(s): lr."),
        (["tiny", "--out", "{f}/inside"], b"a file, not a folder", "{f}/inside: Not a directory"),
        (
            ["score", "--checkpoint", "x", "--jsonl", "{f}"],
            b'{"media": "a.png"}\n{"media": \n',
            "{f} line 2: not valid JSON",
        ),
        (
            ["score", "--checkpoint", "x", "--jsonl", "{f}"],
            b'["a.png"]\n',
            '{f} line 1: each line is an object with "media"',
        ),
        (["score", "--checkpoint", "x", "--jsonl", "{f}"], None, "{f}: No such file or directory"),
    ],
)
def test_a_mendable_mistake_is_one_line_and_exit_1(tmp_path, capsys, argv, content, message):
    path = tmp_path / "input"
    if content is not None:
        path.write_bytes(content)
    code = main([a.replace("{f}", str(path)) for a in argv])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"python -m training.scorer {argv[0]}: {message.replace('{f}', str(path))}")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
