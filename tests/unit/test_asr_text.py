import pytest

from voice.asr import _drop_repeats


@pytest.mark.parametrize(("text", "expected"), [
    ("Goodbye Goodbye Goodbye Goodbye Goodbye Goodbye", "Goodbye"),
    ("the sea. the sea. the sea. the sea. the sea.", "the sea."),
    ("zero zero zero zero", "zero zero zero zero"),
    ("Please tell me a story about the sea.", "Please tell me a story about the sea."),
])
def test_decoding_loops_are_cut_but_real_repeats_kept(text, expected):
    assert _drop_repeats(text) == expected
