"""Reading labelled CSVs for the router, few-shot subsampling, and the sample data."""

import os
from collections import Counter

import pytest

from dialog.router_data import (
    Example,
    RouterDataError,
    read_labelled_csv,
    subsample,
    write_labelled_csv,
)
from dialog.router_samples import CORES, sample_examples


def write(tmp_path, content: str | bytes, name: str = "data.csv"):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_reads_text_and_label_and_ignores_other_columns(tmp_path):
    path = write(tmp_path, "\ufeffid, Text ,LABEL\n1,\"Hello,  there\",greet\n\n2,bye,leave\n")
    assert read_labelled_csv(path) == [Example("Hello, there", "greet"), Example("bye", "leave")]


def test_round_trip_through_the_writer(tmp_path):
    examples = [Example('a "quoted", text', "x"), Example("second line", "y")]
    write_labelled_csv(tmp_path / "out.csv", examples)
    assert read_labelled_csv(tmp_path / "out.csv") == examples


@pytest.mark.parametrize(("content", "expected"), [
    ("text,intent\nhello,greet\n", "no 'label' column"),
    ("utterance,label\nhello,greet\n", "no 'text' column"),
    ("text,label\nhello,greet\n   ,leave\n", "line 3 has an empty text"),
    ("text,label\nhello,greet\nbye,\n", "line 3 has an empty label"),
    ("text,label\nhello,greet\nhi,greet\n", "at least 2 labels"),
    ("text,label\n", "no examples"),
    ("", "the file is empty"),
    ("text,label\nhello\n", "line 2 has 1 fields"),
    ("text,label\n" + "x" * 2500 + ",a\nb,c\n", "2500 characters"),
])
def test_bad_csvs_are_refused_with_a_reason(tmp_path, content, expected):
    with pytest.raises(RouterDataError, match=expected):
        read_labelled_csv(write(tmp_path, content))


def test_binary_junk_is_not_a_csv(tmp_path):
    junk = os.urandom(4096)
    with pytest.raises(RouterDataError, match=r"binary|not UTF-8"):
        read_labelled_csv(write(tmp_path, b"text,label\n" + junk))


def test_non_utf8_text_names_the_line(tmp_path):
    path = write(tmp_path, "text,label\nhello,greet\ncaf\xe9,order\n".encode("latin-1"))
    with pytest.raises(RouterDataError, match="line 3 is not UTF-8"):
        read_labelled_csv(path)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "junk.csv"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(RouterDataError, match="50 MB is too large"):
        read_labelled_csv(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(RouterDataError, match="no such file"):
        read_labelled_csv(tmp_path / "absent.csv")


def test_one_label_is_enough_for_evaluation(tmp_path):
    path = write(tmp_path, "text,label\nhello,greet\n")
    assert read_labelled_csv(path, min_labels=1) == [Example("hello", "greet")]


def test_subsample_keeps_at_most_k_a_label_reproducibly():
    examples = [Example(f"text {i}", f"label {i % 3}") for i in range(30)] + [
        Example("rare", "label 9")]
    first, again = subsample(examples, 4, seed=1), subsample(examples, 4, seed=1)
    assert first == again
    assert Counter(e.label for e in first) == {"label 0": 4, "label 1": 4, "label 2": 4,
                                               "label 9": 1}
    assert subsample(examples, 4, seed=2) != first
    with pytest.raises(RouterDataError):
        subsample(examples, 0, seed=1)


def test_sample_data_is_deterministic_and_tests_unseen_phrasings():
    train, test = sample_examples("train", 50), sample_examples("test", 20)
    assert train == sample_examples("train", 50)
    assert Counter(e.label for e in train) == dict.fromkeys(CORES, 50)
    assert Counter(e.label for e in test) == dict.fromkeys(CORES, 20)
    assert not {e.text for e in train} & {e.text for e in test}
    assert all(e.text.strip() and "{" not in e.text for e in train + test)
