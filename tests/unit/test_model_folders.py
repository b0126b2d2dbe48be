from pathlib import Path

import pytest

from app.model_folders import built_in_place_of


def test_a_folder_built_whole_replaces_the_old_one(tmp_path: Path):
    target = tmp_path / "models" / "entry"
    target.mkdir(parents=True)
    (target / "old.bin").write_text("old")
    with built_in_place_of(target) as staging:
        (staging / "model.bin").write_text("new")
        assert not (target / "model.bin").exists()  # nothing shows before the block ends
    assert [path.name for path in target.iterdir()] == ["model.bin"]
    assert [path.name for path in target.parent.iterdir()] == ["entry"]


def test_a_failed_build_leaves_neither_a_partial_folder_nor_a_changed_one(tmp_path: Path):
    target = tmp_path / "entry"
    target.mkdir()
    (target / "model.bin").write_text("old")
    with pytest.raises(RuntimeError), built_in_place_of(target) as staging:
        (staging / "model.bin").write_text("half")
        raise RuntimeError("killed mid-way")
    assert (target / "model.bin").read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["entry"]
