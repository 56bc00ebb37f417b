"""Typed reading of composed YAML nodes that keeps going after a problem, so one report lists them all.

Only this package imports yaml. Files are composed with the safe loader (no tags that build objects),
and values are read from nodes so every problem knows its line and column, and positions keep
their exact text.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import json
import math
import os
import re
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import yaml

from showcontrol.errors import UNSAFE, Problem, ShowFileError, SourceMark, quoted
from showcontrol.load.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_ITEMS, MAX_KEY, MAX_PAYLOAD_BYTES, MAX_TEXT, MAX_VALUES
from showcontrol.model.position import POSITION_FORMS, Position, parse_position

Node = yaml.Node
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
BOOL_TAG = "tag:yaml.org,2002:bool"
NULL_TAG = "tag:yaml.org,2002:null"
SEQ_TAG = "tag:yaml.org,2002:seq"
MAP_TAG = "tag:yaml.org,2002:map"
YAML_TAG = "tag:yaml.org,2002:"
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
SCALAR_TAGS = {
    f"{YAML_TAG}{name}": yaml.constructor.SafeConstructor.yaml_constructors[f"{YAML_TAG}{name}"]
    for name in ("str", "int", "float", "bool", "null", "timestamp")
}


def compose_file(path: Path, what: str) -> Node:
    """Parse a YAML file into nodes; raise ShowFileError pointing at what makes it unusable.

    Whatever the file is (a FIFO, a device, 50 MB, a byte that is not UTF-8, an alias bomb), the answer
    comes in bounded time and memory: limits.py says how much of each is accepted.
    """
    text = _decoded(path, _contents(path, what), what)
    if (items := text.count("\n") + text.count(",") + text.count("[") + text.count("{")) > MAX_ITEMS:
        _fail(
            path, 1, 1, f"{what} has {items:,} lines, commas and brackets; the limit is {MAX_ITEMS:,}", "split the show into smaller files"
        )
    try:
        with collector_paused():
            node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if "maximum nesting depth" in str(error.problem):
            _fail(path, line, col, f"lists and mappings are nested more than {MAX_DEPTH} deep", "flatten the structure")
        if (tab := _tab_at(text, line, col, str(error.problem))) is not None:
            _fail(path, *tab, "a tab", "indent with spaces")
        problem = f"{error.problem}" + (f" ({error.context})" if error.context else "")
        _fail(path, line, col, f"YAML syntax error: {problem}", "check indentation, colons and quotes around this spot")
    except yaml.YAMLError as error:
        _fail(path, 1, 1, f"YAML error: {error}", "fix the file's syntax")
    if node is None:
        _fail(path, 1, 1, f"{what} is empty", "start from docs/show-file.md or cues/demo/")
    if (structure := _structure_problem(path, node)) is not None:
        raise ShowFileError([structure])
    return node


def _tab_at(text: str, line: int, col: int, problem: str) -> tuple[int, int] | None:
    """Where the tab is that libyaml stopped at ("found character that cannot start any token", "a tab character
    that violates indentation"): at its mark, else the first one on that line; None if the error is not a tab's."""
    lines = text.split("\n")
    row = lines[line - 1] if 0 < line <= len(lines) else ""
    if row[col - 1 : col] == "\t":
        return line, col
    if "tab" in problem and "\t" in row:
        return line, row.index("\t") + 1
    return None


class _Loader(yaml.CSafeLoader):
    """libyaml's composer with the safe loader's tags, each plain scalar's tag looked up once per distinct text
    (a show repeats `to`, `at`, `lights` a hundred thousand times; PyYAML's resolver tries its patterns on each).
    The safe loader has no path resolvers, so descending and ascending have nothing to do."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tags: dict[str, str] = {}

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is not yaml.ScalarNode:
            return SEQ_TAG if kind is yaml.SequenceNode else MAP_TAG
        if not implicit[0]:
            return STR_TAG
        tag = self._tags.get(value)
        if tag is None:
            candidates = _IMPLICIT.get(value[:1], ())
            tag = self._tags[value] = next((tag for tag, pattern in candidates if pattern.match(value)), STR_TAG)
        return tag

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = yaml.resolver.Resolver.yaml_implicit_resolvers


def _fail(path: Path, line: int, col: int, message: str, hint: str) -> NoReturn:
    raise ShowFileError([Problem(SourceMark(str(path), line, col), message, hint)])


def _contents(path: Path, what: str) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES; never waits on a FIFO or reads a device."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a pipe, device or socket"
            _fail(path, 1, 1, f"{what} is {kind}, not a file", "give the path of a YAML file")
        if info.st_size > MAX_FILE_BYTES:
            _fail(path, 1, 1, f"{what} is {info.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,}", "split the show into smaller files")
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # replaced by a FIFO since the stat: no wait for a writer
        with os.fdopen(descriptor, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        _fail(path, 1, 1, f"{what} not found", "check the path")
    except PermissionError:
        _fail(path, 1, 1, f"{what} cannot be read: permission denied", "check the file's permissions (ls -l) or run as its owner")
    except OSError as error:
        _fail(path, 1, 1, f"cannot read {what}: {error.strerror or error}", "check the path")
    if len(data) > MAX_FILE_BYTES:
        _fail(path, 1, 1, f"{what} is larger than {MAX_FILE_BYTES:,} bytes, the limit", "split the show into smaller files")
    return data


_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _decoded(path: Path, data: bytes, what: str) -> str:
    """The file as text; a byte that is not UTF-8 or a control character is reported where it is."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        column = len(data[line_start : error.start].decode("utf-8", "replace")) + 1
        _fail(
            path,
            data.count(b"\n", 0, error.start) + 1,
            column,
            f"byte 0x{data[error.start]:02X} is not UTF-8 text",
            "save the file as UTF-8 (it may be Latin-1 or Windows-1252)",
        )
    if (bad := _UNPRINTABLE.search(text)) is not None:
        line_start = text.rfind("\n", 0, bad.start()) + 1
        _fail(
            path,
            text.count("\n", 0, bad.start()) + 1,
            bad.start() - line_start + 1,
            f"control character U+{ord(bad[0]):04X} is not allowed in a {what}",
            "delete it (editors may show it as ^ and a letter, or not at all)",
        )
    return text


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection inside: a load makes a million objects that live on, and the collector, set off
    by their number, would walk them over and over (tripling the time); they hold no cycles to collect."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _structure_problem(path: Path, root: Node) -> Problem | None:
    """Nesting deeper than MAX_DEPTH; where a collection is reached twice (an alias), also an alias inside
    itself or more than MAX_VALUES values once aliases are expanded (each is composed once, but read as often
    as it is used)."""
    seen: set[int] = set()
    shared = False
    stack: list[tuple[Node, int]] = [(root, 1)] if not isinstance(root, yaml.ScalarNode) else []
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            shared = True
            continue
        if depth > MAX_DEPTH:
            return Problem(_mark(path, node), f"lists and mappings are nested more than {MAX_DEPTH} deep", "flatten the structure")
        seen.add(id(node))
        stack.extend((child, depth + 1) for child in _children(node) if not isinstance(child, yaml.ScalarNode))
    return _expansion_problem(path, root) if shared else None


def _children(node: Node) -> list[Node]:
    return [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else list(node.value)


def _expansion_problem(path: Path, root: Node) -> Problem | None:
    sizes: dict[int, int] = {}  # expanded size of each collection done
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.ScalarNode) or key in sizes:
            continue
        if done:
            on_path.discard(key)
            size = sizes[key] = 1 + sum(sizes.get(id(child), 1) for child in _children(node))
            if size > MAX_VALUES:
                return Problem(
                    _mark(path, node),
                    f"aliases here expand to more than {MAX_VALUES:,} values, the limit",
                    "repeat fewer or smaller aliases",
                )
            continue
        if key in on_path:
            return Problem(
                _mark(path, node), "an alias refers to a list or mapping that contains it", "an alias must not be inside its anchor"
            )
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))
    return None


def _mark(path: Path, node: Node) -> SourceMark:
    return SourceMark(str(path), node.start_mark.line + 1, node.start_mark.column + 1)


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
                "write it as `key: value` lines" + (f"; keys: {', '.join(allowed)}" if allowed and not isinstance(allowed, AnyKey) else ""),
            )
            return None
        values: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, what)
            if key is None:
                continue
            if key in values:
                self.problem(
                    key_node, f"{key!r} appears twice in {what}", f"keep one; the other is on line {values[key][0].start_mark.line + 1}"
                )
            elif key not in allowed:
                self.problem(key_node, f"unknown key {quoted(key)} in {what}", suggestion(key, allowed))
            else:
                values[key] = (key_node, value_node)
        for key in required:
            if key not in values:
                self.problem(node, f"{what} has no {key!r}", f"add {key}: ...")
        return Fields(node, values)

    def top(self, root: Node, kind: str, what: str, allowed: Collection[str], required: Collection[str]) -> Fields | None:
        """The top-level keys of a file. A file that is not one of ours at all (`patch: /etc/shadow`) is told
        so in one problem that echoes none of its content."""
        known = isinstance(root, yaml.MappingNode) and any(isinstance(k, yaml.ScalarNode) and k.value in allowed for k, _ in root.value)
        if not known:
            self.problem(
                root,
                f"this is not {kind}: it has none of the keys {', '.join(required)}",
                "check the path; docs/show-file.md shows the format",
            )
            return None
        return self.fields(root, what, allowed, required)

    def key(self, node: Node, what: str) -> str | None:
        """A mapping key as written (`off:` is the word off, not false); None, with a problem, for a list or mapping."""
        if isinstance(node, yaml.ScalarNode) and len(str(node.value)) <= MAX_KEY:
            return str(node.value)
        if isinstance(node, yaml.ScalarNode):
            self.problem(node, f"a key in {what} is {len(str(node.value)):,} characters long; the limit is {MAX_KEY}", "shorten it")
            return None
        self.problem(
            node, f"a key in {what} is {_describe(node)}, not a word", "write `name: value`; a [...] or {...} before a colon makes it a key"
        )
        return None

    def version(self, node: Node) -> None:
        if not (isinstance(node, yaml.ScalarNode) and node.tag == INT_TAG and str(node.value) == "1"):
            self.problem(node, f"version {_shown(node)} is not supported", "write version: 1 (the only format version so far)")

    def items(self, node: Node, what: str) -> list[Node]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        self.problem(node, f"{what} must be a list, got {_describe(node)}", "write each entry on its own line starting with '- '")
        return []

    def text(self, node: Node, what: str, limit: int = MAX_TEXT) -> str | None:
        """Text of at most `limit` characters without control characters (a file's text reaches monitors and terminals)."""
        if not (isinstance(node, yaml.ScalarNode) and node.tag != NULL_TAG and str(node.value).strip()):
            self.problem(node, f"{what} must be text, got {_describe(node)}", "write a word or a quoted string")
            return None
        value = str(node.value)
        if len(value) > limit:
            self.problem(node, f"{what} is {len(value):,} characters long; the limit is {limit:,}", "shorten it")
        elif (control := UNSAFE.search(value)) is not None:
            self.problem(node, f"{what} contains the control character U+{ord(control[0]):04X}", "remove it: text is one plain line")
        else:
            return value
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
        if isinstance(node, yaml.ScalarNode) and node.tag in (INT_TAG, FLOAT_TAG) and len(str(node.value)) <= 100:
            try:
                value = Fraction(str(node.value).replace("_", ""))
            except ValueError:  # YAML 1.1 forms Fraction does not read (0x1F, 1:30); .inf and .nan are no number here
                raw = self._scalar(node)
                value = Fraction(raw) if isinstance(raw, int | float) and math.isfinite(raw) else None
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
        self.problem(node, f"{what} {quoted(word)} is not known", suggestion(word[:100], choices))
        return None

    def plain(self, node: Node) -> Any:
        """The Python value of a node (OSC arguments, MQTT payloads, profile parameters); None, with a problem,
        for what a device cannot be sent: unsafe tags, .inf/.nan, keys given twice, and YAML 1.1 booleans
        (on, off, yes, no) that a reader takes for words."""
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in SCALAR_TAGS:
                self.problem(node, f"the tag {quoted(node.tag)} is not allowed", "show files hold plain values: remove the !!tag")
                return None
            value = self._scalar(node)
            if value is None and node.tag != NULL_TAG:
                self.problem(node, f"{_shown(node)} is not a valid {node.tag.removeprefix(YAML_TAG)}", "remove the !!tag, or fix the value")
                return None
            if isinstance(value, bool) and str(node.value).lower() not in ("true", "false"):
                self.problem(
                    node,
                    f"{str(node.value)!r} is read as {str(value).lower()}",
                    f'quote it ("{node.value}") for the word, or write {str(value).lower()}',
                )
                return None
            if isinstance(value, float) and not math.isfinite(value):
                self.problem(node, f"{node.value} is not a number a device can take", "write a finite number")
                return None
            return value
        if isinstance(node, yaml.SequenceNode) and node.tag == SEQ_TAG:
            return [self.plain(item) for item in node.value]
        if isinstance(node, yaml.MappingNode) and node.tag == MAP_TAG:
            mapping: dict[str, Any] = {}
            merged: dict[str, Any] = {}  # `<<: *defaults`: keys written beside it win
            for key_node, value_node in node.value:
                if key_node.tag == MERGE_TAG:
                    sources = self.plain(value_node)
                    for source in sources if isinstance(sources, list) else [sources]:
                        if isinstance(source, dict):
                            merged.update({k: v for k, v in source.items() if k not in merged})
                        else:
                            self.problem(value_node, "<< merges mappings", "write <<: *name, where &name marks a mapping")
                    continue
                key = self.key(key_node, "a value")
                if key in mapping:
                    self.problem(key_node, f"{quoted(key)} appears twice in this mapping", "keep one")
                elif key is not None:
                    mapping[key] = self.plain(value_node)
            return {**merged, **mapping}
        self.problem(node, f"the tag {quoted(node.tag)} is not allowed", "show files hold plain values: remove the !!tag")
        return None

    def payload(self, node: Node) -> str | None:
        """Scalars as written; lists and mappings as compact JSON; None, with a problem, beyond MAX_PAYLOAD_BYTES."""
        if isinstance(node, yaml.ScalarNode):
            text = "" if node.tag == NULL_TAG else str(node.value)
        else:
            text = json.dumps(self.plain(node), separators=(",", ":"), default=str, ensure_ascii=False)
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            self.problem(
                node, f"the payload is {len(text.encode()):,} bytes; the limit is {MAX_PAYLOAD_BYTES:,}", "send less, or a reference to it"
            )
            return None
        return text

    def _scalar(self, node: Node) -> Any:
        """A scalar's value by its tag (int, float, bool, null, str, timestamp); None if its text is no such value."""
        try:
            return SCALAR_TAGS[node.tag](self._constructor, node)
        except (yaml.YAMLError, ValueError, OverflowError):
            return None


def _describe(node: Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "nothing" if node.tag == NULL_TAG else quoted(str(node.value))


def _shown(node: Node) -> str:
    return quoted(str(node.value)) if isinstance(node, yaml.ScalarNode) and node.tag != NULL_TAG else _describe(node)
