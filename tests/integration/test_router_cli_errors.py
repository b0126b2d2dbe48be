"""`python -m app router ...` with bad input: one line saying what is wrong, exit code 2,
no traceback, and no model loaded to find out."""

import os

import pytest

from tests.conftest import run_app


def refused(*args: str) -> str:
    result = run_app("router", *args, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(("content", "expected"), [
    ("text,intent\nhello,greet\nbye,leave\n", "no 'label' column"),
    ("text,label\nhello,greet\n  ,leave\n", "line 3 has an empty text"),
    ("text,label\nhello,greet\nhi,greet\n", "at least 2 labels"),
])
def test_bad_csvs_are_one_line_errors(tmp_path, content, expected):
    path = tmp_path / "data.csv"
    path.write_text(content)
    assert expected in refused("train", str(path), "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_fifty_megabytes_of_junk(tmp_path):
    path = tmp_path / "junk.csv"
    with path.open("wb") as handle:
        for _ in range(50):
            handle.write(os.urandom(1024 * 1024))
    assert "too large" in refused("train", str(path), "--out", str(tmp_path / "out"))
    small = tmp_path / "small-junk.csv"
    small.write_bytes(os.urandom(64 * 1024))
    assert "binary" in refused("eval", str(small)) or "UTF-8" in refused("eval", str(small))


def test_missing_files_and_folders_and_bad_options(tmp_path):
    assert "no such file" in refused("eval", str(tmp_path / "absent.csv"))
    path = tmp_path / "data.csv"
    path.write_text("text,label\nhello,greet\nbye,leave\n")
    assert "not a router folder" in refused("eval", str(path), "--model", str(tmp_path))
    assert "not a router folder" in refused("predict", "--model", str(tmp_path), "hello")
    assert "--shots must be at least 1" in refused("train", str(path), "--out",
                                                   str(tmp_path / "o"), "--shots", "0")
    assert "--epochs must be at least 1" in refused("train", str(path), "--out",
                                                    str(tmp_path / "o"), "--epochs", "0")
    assert "between 0 and 1" in refused("train", str(path), "--out", str(tmp_path / "o"),
                                        "--threshold", "1.5")
