from pathlib import Path

import pytest

from dialog.actions import ACTIONS
from dialog.catalog import COMMON_FILE, FLOWS_DIR, common_lines, load_flows
from dialog.flow_spec import FlowError, load_flow

GOOD = (FLOWS_DIR / "renewal_reminder.yaml").read_text()


def test_the_three_agents_load():
    assert set(load_flows()) == {"welcome_call", "renewal_reminder", "appointment_confirmation"}


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    load_flow(path, actions=frozenset(ACTIONS), lines=common_lines())


@pytest.mark.parametrize(("old", "new", "message"), [
    ("goto: anything_else\n      \"no\":", "goto: nowhere\n      \"no\":",
     "no step named 'nowhere'"),
    ("outcome: renewing", "outcome: sold", "outcome 'sold' is not in this flow's outcomes"),
    ("start: present", "start: begin", "start: no step named 'begin'"),
    ("agent: renewal_reminder", "agent: renewal reminder", "agent"),
    ("goto: ask_reason", "goto: ask_reason\n            say: two effects in one", "exactly one"),
])
def test_a_broken_flow_names_file_line_and_problem(tmp_path, old, new, message):
    assert old in GOOD
    broken = GOOD.replace(old, new, 1)
    with pytest.raises(FlowError) as caught:
        _load(tmp_path, broken)
    text = str(caught.value)
    assert text.startswith(str(tmp_path / "agent.yaml")) and message in text, text
    line = int(text.split(": line ")[1].split(":")[0])
    changed = new.split("\n")[0].split(": ", 1)[-1]
    assert changed in broken.splitlines()[line - 1], (line, text)


def test_an_intent_needs_examples(tmp_path):
    few = GOOD.replace("  ask_reason:\n", "  ask_reason:\n    intents:\n      maybe:\n"
                       "        examples: [one, two]\n", 1)
    with pytest.raises(FlowError, match=r"line \d+: steps.ask_reason.intents.maybe.examples"):
        _load(tmp_path, few)


def test_unknown_action_and_bad_yaml(tmp_path):
    with pytest.raises(FlowError, match=r"line \d+: unknown action 'teleport'"):
        _load(tmp_path, GOOD.replace("goto: ask_reason", "action: teleport", 1))
    with pytest.raises(FlowError, match=r"line \d+: not valid YAML"):
        _load(tmp_path, "agent: x\n  steps: [\n")


def test_yes_and_no_stay_words():
    assert "no" in common_lines().identify["not_them"].examples
    assert COMMON_FILE == "_common.yaml"
