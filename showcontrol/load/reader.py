"""Typed reading of composed YAML nodes that keeps going after a problem, so one report lists them all.

Only this package imports yaml. Files are composed with the safe loader (no tags that build objects),
and values are read from nodes so every problem knows its line and column, and positions keep
their exact text.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from showcontrol.errors import Problem, ShowFileError, SourceMark
from showcontrol.model.position import POSITION_FORMS, Position, parse_position

Node = yaml.Node
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
BOOL_TAG = "tag:yaml.org,2002:bool"
NULL_TAG = "tag:yaml.org,2002:null"


def compose_file(path: Path, what: str) -> Node:
    """Parse a YAML file into nodes; raise ShowFileError pointing at the syntax error or missing file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ShowFileError([Problem(SourceMark(str(path), 1, 1), f"{what} not found", "check the path")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ShowFileError(
            [Problem(SourceMark(str(path), 1, 1), f"cannot read {what}: {error}", "it must be a UTF-8 text file")]
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = f"{error.problem}" + (f" ({error.context})" if error.context else "")
        raise ShowFileError(
            [
                Problem(
                    SourceMark(str(path), line, col),
                    f"YAML syntax error: {problem}",
                    "check indentation, colons and quotes around this spot",
                )
            ]
        ) from None
    except yaml.YAMLError as error:
        raise ShowFileError([Problem(SourceMark(str(path), 1, 1), f"YAML error: {error}", "fix the file's syntax")]) from None
    if node is None:
        raise ShowFileError([Problem(SourceMark(str(path), 1, 1), f"{what} is empty", "start from docs/show-file.md or cues/demo/")])
    return node


@dataclass
class Fields:
    """The keys of one mapping, with their key and value nodes."""

    node: Node
    values: dict[str, tuple[Node, Node]]

    def get(self, key: str) -> Node | None:
        pair = self.values.get(key)
        return pair[1] if pair else None

    def __contains__(self, key: str) -> bool:
        return key in self.values


def suggestion(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"expected one of: {', '.join(sorted(choices))}" if choices else "nothing is allowed here"


NAME = re.compile(r"^[A-Za-z_][\w-]*$")  # sections and performers' feeds: usable in positions and routes


class AnyKey(tuple[str, ...]):
    """Allows every key, where the names are the user's own (sections, performers)."""

    def __contains__(self, key: object) -> bool:
        return True


class Reader:
    """Reads values from one file's nodes, recording problems (and warnings) with their marks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()

    def mark(self, node: Node) -> SourceMark:
        return SourceMark(str(self.path), node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: Node, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.mark(node), message, hint))

    def warn(self, node: Node, message: str, hint: str = "") -> None:
        self.warnings.append(Problem(self.mark(node), message, hint))

    def fields(self, node: Node, what: str, allowed: Collection[str], required: Collection[str] = ()) -> Fields | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(
                node,
                f"{what} must be a mapping of keys to values, got {_describe(node)}",
                f"write it as `key: value` lines; keys: {', '.join(allowed)}",
            )
            return None
        values: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in values:
                self.problem(
                    key_node, f"{key!r} appears twice in {what}", f"keep one; the other is on line {values[key][0].start_mark.line + 1}"
                )
            elif key not in allowed:
                self.problem(key_node, f"unknown key {key!r} in {what}", suggestion(key, allowed))
            else:
                values[key] = (key_node, value_node)
        for key in required:
            if key not in values:
                self.problem(node, f"{what} has no {key!r}", f"add {key}: ...")
        return Fields(node, values)

    def version(self, node: Node) -> None:
        if not (isinstance(node, yaml.ScalarNode) and node.tag == INT_TAG and str(node.value) == "1"):
            self.problem(node, f"version {_shown(node)} is not supported", "write version: 1 (the only format version so far)")

    def items(self, node: Node, what: str) -> list[Node]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        self.problem(node, f"{what} must be a list, got {_describe(node)}", "write each entry on its own line starting with '- '")
        return []

    def text(self, node: Node, what: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag != NULL_TAG and str(node.value).strip():
            return str(node.value)
        self.problem(node, f"{what} must be text, got {_describe(node)}", "write a word or a quoted string")
        return None

    def integer(self, node: Node, what: str, low: int, high: int, example: int | None = None) -> int | None:
        value = self._scalar(node) if isinstance(node, yaml.ScalarNode) and node.tag == INT_TAG else None
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            hint = f"e.g. {example if example is not None else (low if low > 0 else high)}"
            self.problem(node, f"{what} must be a whole number from {low} to {high}, got {_shown(node)}", hint)
            return None
        return value

    def number(self, node: Node, what: str, low: float, high: float, example: str) -> Fraction | None:
        """A number read exactly from its text (0.512 is 512/1000, not the nearest double)."""
        value: Fraction | None = None
        if isinstance(node, yaml.ScalarNode) and node.tag in (INT_TAG, FLOAT_TAG):
            try:
                value = Fraction(str(node.value).replace("_", ""))
            except ValueError:
                raw = self._scalar(node)
                value = Fraction(raw) if isinstance(raw, int | float) and raw == raw else None
        if value is None or not low <= value <= high:
            self.problem(node, f"{what} must be a number from {low:g} to {high:g}, got {_shown(node)}", f"e.g. {example}")
            return None
        return value

    def boolean(self, node: Node, what: str) -> bool | None:
        value = self._scalar(node) if isinstance(node, yaml.ScalarNode) and node.tag == BOOL_TAG else None
        if not isinstance(value, bool):
            self.problem(node, f"{what} must be true or false, got {_shown(node)}", "write true or false")
            return None
        return value

    def position(self, node: Node, what: str) -> Position | None:
        if isinstance(node, yaml.ScalarNode) and node.tag != NULL_TAG:
            try:
                return parse_position(str(node.value))
            except ValueError as error:
                self.problem(node, f"{what}: {error}", POSITION_FORMS)
                return None
        self.problem(node, f"{what} must be a position, got {_describe(node)}", POSITION_FORMS)
        return None

    def choice(self, node: Node, what: str, choices: Collection[str]) -> str | None:
        if isinstance(node, yaml.ScalarNode) and str(node.value) in choices:
            return str(node.value)
        word = str(node.value) if isinstance(node, yaml.ScalarNode) else _describe(node)
        self.problem(node, f"{what} {word!r} is not known", suggestion(word, choices))
        return None

    def plain(self, node: Node) -> Any:
        """The Python value of a node (for OSC arguments and MQTT payloads); None, with a problem, for unsafe tags."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError:
            self.problem(node, f"the tag {node.tag!r} is not allowed", "show files hold plain values: remove the !!tag")
            return None

    def payload(self, node: Node) -> str:
        """Scalars as written; lists and mappings as compact JSON."""
        if isinstance(node, yaml.ScalarNode):
            return "" if node.tag == NULL_TAG else str(node.value)
        return json.dumps(self.plain(node), separators=(",", ":"), default=str)

    def _scalar(self, node: Node) -> Any:
        try:
            return self._constructor.construct_object(node)
        except (yaml.YAMLError, ValueError):
            return None


def _describe(node: Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "nothing" if node.tag == NULL_TAG else repr(str(node.value))


def _shown(node: Node) -> str:
    return repr(str(node.value)) if isinstance(node, yaml.ScalarNode) and node.tag != NULL_TAG else _describe(node)
