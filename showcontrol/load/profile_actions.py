"""Turn a profile action in a cue (`lights: {cue: 12}`) into the plain action it stands for.

The filled-in template is built as YAML nodes marked at the cue's own line, then read by the same
code as a hand-written `osc:`, `midi:` or `mqtt:` action, so it is checked the same way and any
problem points at the show file.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from showcontrol.errors import quoted
from showcontrol.load.profile_params import PARAM_TYPES, checked
from showcontrol.load.reader import NULL_TAG, Node, Reader, suggestion
from showcontrol.model.profile import Profile, ProfileAction

FIELD = re.compile(r"\{(\w+)(?::(0?\d*[df]))?\}")
MISSING = object()


class _Unfilled(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


class _Mistyped(Exception):
    """A parameter whose value does not fit its type (`level: full`, an empty `unmute:`, `cue: 1/../go`)."""

    def __init__(self, name: str, value: Any, wanted: str) -> None:
        self.name, self.value, self.wanted = name, value, wanted


def expand(reader: Reader, output: str, profile: Profile, node: Node) -> Node | None:
    """The action node for `output: <node>`; None (with a problem) when it does not fit the profile."""
    names = ", ".join(profile.actions)
    if isinstance(node, yaml.ScalarNode):
        action_name, params = str(node.value), {}
        if node.tag == NULL_TAG:
            reader.problem(node, f"{output}: names no action", f"e.g. {output}: {{{next(iter(profile.actions), 'go')}: 1}}")
            return None
    elif isinstance(node, yaml.MappingNode):
        reported = len(reader.problems)
        data = reader.plain(node)
        if not isinstance(data, dict) or len(reader.problems) > reported:
            return None
        chosen = [key for key in data if key in profile.actions]
        if len(chosen) != 1:
            hint = (
                suggestion(next(iter(data), ""), list(profile.actions)) if not chosen else "give one action per entry (a list for several)"
            )
            reader.problem(node, f"{output}: name one action of profile {profile.name!r} ({names}), found {len(chosen) or 'none'}", hint)
            return None
        action_name, params = chosen[0], dict(data)  # `cue: 12` names the action and gives its `cue` parameter
    else:
        reader.problem(
            node, f"{output}: a profile action is a name or a mapping", f"e.g. {output}: {{{next(iter(profile.actions), 'go')}: 1}}"
        )
        return None
    action = profile.actions.get(action_name)
    if action is None:
        reader.problem(
            node,
            f"{output}: profile {profile.name!r} has no action {action_name!r}",
            suggestion(action_name, list(profile.actions)) or f"actions: {names}",
        )
        return None
    unknown = [key for key in params if key != action_name and key not in action.params]
    for key in unknown:
        known = [name for name in action.params if name != action_name]
        reader.problem(
            node,
            f"{output}: {action_name} has no parameter {quoted(key)}",
            (suggestion(key, known) or f"its parameters: {', '.join(known)}") if known else f"{action_name} takes none",
        )
    if unknown:
        return None
    try:
        filled = fill(action.template, _typed_params(action, {**action.defaults, **params}))
    except _Unfilled as missing:
        reader.problem(node, f"{output}: {action_name} needs {missing.name}", f"e.g. {output}: {example(action)}")
        return None
    except _Mistyped as wrong:
        shown = "nothing" if wrong.value is None else quoted(str(wrong.value))
        reader.problem(node, f"{output}: {wrong.name} must be {wrong.wanted}, got {shown}", f"e.g. {output}: {example(action)}")
        return None
    return _marked(yaml.representer.SafeRepresenter().represent_data({"to": output, **filled}), node)


def fill(template: Any, params: dict[str, Any]) -> Any:
    """Put parameters into a template: a string that is one `{name}` takes the value's own type; fields
    inside longer strings are formatted; a mapping entry whose parameter is missing is left out."""
    if isinstance(template, str):
        whole = FIELD.fullmatch(template)
        if whole:
            if whole[1] not in params:
                return MISSING
            return _typed(whole[1], params[whole[1]], whole[2])
        return FIELD.sub(lambda m: _text(params, m[1], m[2]), template)
    if isinstance(template, list):
        items = [fill(item, params) for item in template]
        missing = next((FIELD.fullmatch(t)[1] for t, i in zip(template, items, strict=True) if i is MISSING and isinstance(t, str)), None)  # type: ignore[index]
        if missing:
            raise _Unfilled(missing)
        return items
    if isinstance(template, dict):
        return {key: value for key, raw in template.items() if (value := fill(raw, params)) is not MISSING}
    return template


def example(action: ProfileAction) -> str:
    needed = sorted({m[1] for m in FIELD.finditer(str(action.template))} - set(action.defaults))
    return "{" + ", ".join(f"{name}: 1" for name in [action.name, *[n for n in needed if n != action.name]]) + "}"


def _typed_params(action: ProfileAction, params: dict[str, Any]) -> dict[str, Any]:
    """Each parameter checked against its type (profile_params.py), as the value its fields take."""
    typed = {}
    for name, value in params.items():
        kind = action.params.get(name)
        if kind is None:  # the action's own name given a value it does not use (`lights: {go: 1}`)
            continue
        if (typed_value := checked(kind, value)) is None:
            raise _Mistyped(name, value, PARAM_TYPES[kind])
        typed[name] = typed_value
    return typed


def _typed(name: str, value: Any, fmt: str | None) -> Any:
    """The value a field takes: a number for `:d`/`:f` (checked by its type already), else the value as given."""
    if not fmt or (fmt.endswith("d") and isinstance(value, int)):
        return value
    try:
        number = float(value)
    except ValueError:  # a name or text parameter in a numeric field: the profile's mistake, told as the value's
        raise _Mistyped(name, value, "a number") from None
    if fmt.endswith("d") and not number.is_integer():  # note: 60.5 is no note
        raise _Mistyped(name, value, "a whole number")
    return int(number) if fmt.endswith("d") else number


def _text(params: dict[str, Any], name: str, fmt: str | None) -> str:
    if name not in params:
        raise _Unfilled(name)
    return format(_typed(name, params[name], fmt), fmt or "")


def _marked(built: Node, at: Node) -> Node:
    """Mark every built node with the cue's position, so problems point at the show file."""
    built.start_mark, built.end_mark = at.start_mark, at.end_mark
    if isinstance(built, yaml.MappingNode):
        for key, value in built.value:
            _marked(key, at)
            _marked(value, at)
    elif isinstance(built, yaml.SequenceNode):
        for item in built.value:
            _marked(item, at)
    return built
