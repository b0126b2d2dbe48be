"""The three agents with the real context-tracking SLM: scenarios and disclosure rules."""

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_app

pytestmark = pytest.mark.slow
SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("*.jsonl"))
DETAILS = ("Patel", "Main Street", "November 24", "3:30", "HP-204981", "1,284", "1,140",
           "December 15", "4217", "Everyday Checking")


def _eval(paths: list[Path], out: Path, *extra: str) -> dict:
    result = run_app("eval", *map(str, paths), "--json", str(out), *extra, timeout=1200)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.strip().splitlines()
    summary = json.loads(out.read_text())
    assert f"{summary['passed']} passed, {summary['failed']} failed" in lines
    return summary


def test_scenarios_pass_in_text_mode(tmp_path):
    assert len(SCENARIOS) == 3
    summary = _eval(SCENARIOS, tmp_path / "result.json")
    assert summary["passed"] + summary["failed"] >= 60
    failing = [s["id"] + ": " + "; ".join(s["problems"]) for s in summary["scenarios"]
               if not s["passed"]]
    assert summary["success_rate"] >= 0.95, "\n".join(failing)


def test_nothing_is_disclosed_before_verification(tmp_path):
    """Every agent's wrong-person and not-verified paths: no detail of the customer."""
    rows = [json.loads(line) for path in SCENARIOS for line in path.read_text().splitlines()]
    unsafe = [row for row in rows if row["expect"]["outcome"] in ("wrong_person", "not_verified")]
    assert {row["agent"] for row in unsafe} == {"appointment_confirmation", "renewal_reminder",
                                               "welcome_call"}
    for row in unsafe:
        row["expect"] = {"outcome": row["expect"]["outcome"], "not_said": list(DETAILS)}
    path = tmp_path / "unsafe.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in unsafe))
    summary = _eval([path], tmp_path / "unsafe.json")
    for scenario in summary["scenarios"]:
        said = " ".join(scenario["agent_lines"])
        assert not [d for d in DETAILS if d in said], (scenario["id"], said)
        assert scenario["outcome"] in ("wrong_person", "not_verified"), scenario


def test_malformed_scenario_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "agent": "welcome_call"\n')
    result = run_app("eval", str(bad), timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}:1: not valid JSON (Expecting ',' delimiter)"


def test_voice_mode_answers_every_caller_turn(tmp_path):
    """Each caller line goes through espeak-ng, 8 kHz mu-law and the real voice session;
    the agent answers every turn it hears (none dropped while the tracker works)."""
    picks = "appt-confirm-basic,appt-transfer,welcome-opt-out"
    summary = _eval(SCENARIOS, tmp_path / "voice.json", "--voice", "--only", picks)
    assert [s["id"] for s in summary["scenarios"]] == picks.split(",")
    for scenario in summary["scenarios"]:
        heard, lines = scenario["caller_heard"], scenario["agent_lines"]
        assert heard and len(lines) >= len(heard), scenario  # the greeting, then a reply each
    assert summary["passed"] >= 2, summary["scenarios"]
