"""Domain agents as data: the schema of a flow file and its loader.

A flow file (YAML) names an agent, the context it needs, its outcomes, and its steps. A step
says something, asks an open question, and maps the caller's intents to a list of effects
(set an outcome or slot, say a line, run a named action, go to a step). Every file is
validated when loaded; a problem is reported with the file, the line and what is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

BUILT_IN_STEPS = frozenset({"identify", "verify", "anything_else", "end"})
SLOT_PARSERS = frozenset({"preference", "slot_choice", "text"})


class FlowError(ValueError):
    """A flow file is malformed; the message names the file, line and problem."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Effect(_Spec):
    """One thing a transition does. Exactly one of the fields is set."""

    say: str | None = None
    when: str | None = Field(None, description="only if this context field is non-empty")
    outcome: str | None = None
    set: dict[str, bool | str] | None = None
    action: str | None = None
    goto: str | None = None


class Intent(_Spec):
    """A meaning the caller can express at a step, with examples of how it is said."""

    examples: list[str] = Field(min_length=3)
    then: list[Effect] = Field(default_factory=list)


class Step(_Spec):
    say: str | None = None
    ask: str | None = Field(None, description="the open question, re-asked after a detour")
    listen: str | None = Field(None, description="what an answer sounds like, told to the "
                               "speech recognizer (the step's own words: 'renew', not 'remove')")
    collect: Literal["preference", "slot_choice", "text"] | None = None
    slot: str | None = Field(None, description="for yes/no steps: the bool slot it answers")
    topic: list[str] = Field(default_factory=list,
                             description="words showing the caller answers this step early")
    topic_against: list[str] = Field(
        default_factory=list, description="whole words naming the other choice: an answer "
        "about them is the opposite answer ('no paper, please' is a yes to paperless)")
    skip_if: str | None = Field(None, description="skip the step when this slot is filled")
    intents: dict[str, Intent] = Field(default_factory=dict)
    answers: list[str] = Field(default_factory=list,
                               description="examples of answers that fill the collected slot")
    then: list[Effect] = Field(default_factory=list, description="after a collected slot")


class Flow(_Spec):
    agent: str
    description: str
    requires: list[str] = Field(default_factory=list)
    outcomes: list[str] = Field(min_length=1)
    start: str
    steps: dict[str, Step]

    @field_validator("agent")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError("must be a name like appointment_confirmation")
        return value


class Lines(_Spec):
    """The shared wording and intents of every agent (the file ``_common.yaml``)."""

    lines: dict[str, str]
    global_intents: dict[str, Intent]
    identify: dict[str, Intent]
    verify: dict[str, Intent]
    anything_else: dict[str, Intent]
    early: dict[str, Intent] = Field(description="'none' for the look-ahead questions")


SpecT = TypeVar("SpecT", bound=BaseModel)


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping key and sequence item.

    Only ``true`` and ``false`` are booleans (as in YAML 1.2): a caller saying "no" or
    "yes" in an example must stay a string.
    """

    lines: dict[tuple[int, Any], int]
    keep: list[Any]  # sequences stay alive, so their ids in ``lines`` stay unique


_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"),
                                  list("tf"))


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        loader.lines[(id(result), key)] = key_node.start_mark.line + 1
    return result


def _sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list[Any]:
    items = [loader.construct_object(child, deep=True) for child in node.value]
    for index, child in enumerate(node.value):
        loader.lines[(id(items), index)] = child.start_mark.line + 1
    loader.keep.append(items)
    return items


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def _read(path: Path) -> tuple[Any, dict[tuple[int, Any], int], list[Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FlowError(f"{path}: cannot read: {error}") from None
    loader = _LineLoader(text)
    loader.lines = {}
    loader.keep = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        raise FlowError(f"{path}: {line}not valid YAML: {getattr(error, 'problem', error)}") \
            from None
    finally:
        loader.dispose()
    return data, loader.lines, loader.keep


def _line_of(data: Any, location: tuple[Any, ...], lines: dict[tuple[int, Any], int]) -> int:
    """The line of the deepest part of ``location`` that exists in the file."""
    line, node = 1, data
    for part in location:
        key = (id(node), part)
        if key not in lines:
            break
        line = lines[key]
        node = node[part]
    return line


def _validate(path: Path, model: type[SpecT]) -> tuple[SpecT, Any, dict[Any, int]]:
    data, lines, _ = _read(path)
    if not isinstance(data, dict):
        raise FlowError(f"{path}: line 1: expected a mapping of fields")
    try:
        return model.model_validate(data), data, lines
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        line = _line_of(data, tuple(problem["loc"]), lines)
        raise FlowError(f"{path}: line {line}: {where}: {problem['msg']}") from None


def load_lines(path: Path) -> Lines:
    return _validate(path, Lines)[0]


def load_flow(path: Path, *, actions: frozenset[str], lines: Lines) -> Flow:
    """Read and check one agent's flow file against the actions the engine knows."""
    flow, data, line_map = _validate(path, Flow)
    for problem, location in _references(flow, actions, lines):
        raise FlowError(f"{path}: line {_line_of(data, location, line_map)}: {problem}")
    return flow


def _references(flow: Flow, actions: frozenset[str],
                lines: Lines) -> list[tuple[str, tuple[Any, ...]]]:
    """Every name a flow uses that does not exist: steps, outcomes, actions."""
    known_steps = set(flow.steps) | BUILT_IN_STEPS
    problems: list[tuple[str, tuple[Any, ...]]] = []
    if flow.start not in flow.steps:
        problems.append((f"start: no step named '{flow.start}'", ("start",)))
    for name, step in flow.steps.items():
        if name in BUILT_IN_STEPS:
            problems.append((f"step '{name}' has the name of a built-in step", ("steps", name)))
        if not step.say and not step.then and not step.intents:
            problems.append((f"step '{name}' says nothing and does nothing", ("steps", name)))
        if step.collect and len(step.answers) < 3:
            problems.append((f"step '{name}' collects a slot but gives fewer than 3 answers",
                             ("steps", name)))
        effects: list[tuple[tuple[Any, ...], Effect]] = [
            (("steps", name, "then", i), e) for i, e in enumerate(step.then)]
        for intent_name, intent in step.intents.items():
            if intent_name in lines.global_intents:
                problems.append((f"intent '{intent_name}' is a global intent",
                                 ("steps", name, "intents", intent_name)))
            effects += [(("steps", name, "intents", intent_name, "then", i), e)
                        for i, e in enumerate(intent.then)]
        for location, effect in effects:
            problems += [(message, location) for message in
                         _effect_problems(effect, known_steps, set(flow.outcomes), actions)]
    return problems


def _effect_problems(effect: Effect, steps: set[str], outcomes: set[str],
                     actions: frozenset[str]) -> list[str]:
    fields = [f for f in ("say", "outcome", "set", "action", "goto")
              if getattr(effect, f) is not None]
    if len(fields) != 1:
        return [f"an effect needs exactly one of say/outcome/set/action/goto, got {fields}"]
    if effect.goto is not None and effect.goto not in steps:
        return [f"goto: no step named '{effect.goto}'"]
    if effect.outcome is not None and effect.outcome not in outcomes:
        return [f"outcome '{effect.outcome}' is not in this flow's outcomes"]
    if effect.action is not None and effect.action not in actions:
        return [f"unknown action '{effect.action}' (known: {', '.join(sorted(actions))})"]
    return []
