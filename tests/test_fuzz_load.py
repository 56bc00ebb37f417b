"""Property: whatever is done to the demo show or its patch, loading answers with a show or with problems
that each have a line and a column and print no raw control character, in bounded time; never a traceback."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from showcontrol.errors import ShowFileError
from showcontrol.load.show_file import load_show

SHOW = (REPO / "cues/demo/show.yaml").read_text(encoding="utf-8")
PATCH = (REPO / "hardware/demo-stage.yaml").read_text(encoding="utf-8")
CLICK_ONLY = "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: 9.1\n    tempo: [{bar: 1, bpm: 120}]\n" + (
    "    cues:\n      - {at: 1.1, lights: {cue: 2}}\n      - {at: 2.1, osc: {to: lights, address: /a}}\n"
    "      - {at: 3.1, mqtt: {to: monitors, topic: fx/a, payload: go}}\n      - {at: 4.1, midi: {to: keys, note_on: 60}}\n"
)
TIME_LIMIT_S = 5.0
RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

# What users and attackers type: YAML 1.1 words, non-numbers, aliases, tags, escapes, huge and odd values.
HOSTILE = [
    ".inf",
    "-.inf",
    ".nan",
    "on",
    "off",
    "yes",
    "no",
    "~",
    "null",
    "[]",
    "{}",
    "''",
    '"\\0"',
    '"\\e[31m"',
    '"\\x07"',
    "&a [*a]",
    "*nowhere",
    "!!python/object/apply:os.system [true]",
    "!!binary aGVsbG8=",
    "0x1F",
    "1_000",
    "1e400",
    "99999999999999999999.1",
    "-1",
    "0",
    "4/0",
    "1:99",
    "31:99:99:99",
    "[[[[[[[[[[]]]]]]]]]]",
    "{a: 1, a: 2}",
    "? [a]\n  : b",
    "x" * 2000,
    "é",
    "\u202e",
    "#",
    "+",
    "$SYS",
    "10.0.0.5:8000",
    "/dev/zero",
    "/etc/shadow",
    "../../../../etc/passwd",
    "- - -",
    "---",
    "...",
    "%YAML 1.1",
    "@",
    "`",
    "|",
    ">",
    "chorus:99.99",
    "9.9.9999",
    "1000000000000.1",
]


def mutated(text: str) -> st.SearchStrategy[str]:
    lines = text.splitlines(keepends=True)
    index = st.integers(0, len(lines) - 1)
    value = st.sampled_from(HOSTILE) | st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)

    def replace_value(i: int, new: str) -> str:
        key, colon, _ = lines[i].partition(": ")
        return "".join([*lines[:i], f"{key}{colon}{new}\n" if colon else f"{new}\n", *lines[i + 1 :]])

    def insert(offset: int, new: str) -> str:
        return text[:offset] + new + text[offset:]

    def delete(i: int, count: int) -> str:
        return "".join(lines[:i] + lines[i + count :])

    def duplicate(i: int) -> str:
        return "".join(lines[: i + 1] + lines[i:])

    return st.one_of(
        st.builds(replace_value, index, value),
        st.builds(insert, st.integers(0, len(text)), value),
        st.builds(delete, index, st.integers(1, 5)),
        st.builds(duplicate, index),
    )


def mutants(text: str) -> st.SearchStrategy[str]:
    """One mutation, or two on top of each other (a typo in a file that already has one)."""
    return mutated(text) | mutated(text).flatmap(mutated)


def answers_cleanly(show: Path, patch: Path | None = None) -> None:
    started = time.monotonic()
    try:
        load_show(show, patch, with_audio=False)
    except ShowFileError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.mark.line >= 1 and problem.mark.col >= 1, problem
            assert not RAW_CONTROL.search(str(problem)), repr(str(problem))
    assert time.monotonic() - started < TIME_LIMIT_S


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "patch.yaml").write_text(PATCH)
    (folder / "click-only.yaml").write_text(CLICK_ONLY)
    return folder


@FUZZ
@given(text=mutants(SHOW.replace("../../hardware/demo-stage.yaml", "patch.yaml")))
def test_a_mutated_demo_show_loads_or_is_reported(stage: Path, text: str) -> None:
    show = stage / "show.yaml"
    show.write_text(text, encoding="utf-8")
    answers_cleanly(show)


@FUZZ
@given(text=mutants(PATCH))
def test_a_mutated_patch_loads_or_is_reported(stage: Path, text: str) -> None:
    patch = stage / "mutated-patch.yaml"
    patch.write_text(text, encoding="utf-8")
    answers_cleanly(stage / "click-only.yaml", patch)
