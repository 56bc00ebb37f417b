"""The error corpus: each malformed show names, in its first line, the exact report it must produce.

Add a case by dropping a file in tests/errors/ whose first line is
`# expect: [OTHER-FILE:]LINE:COL: message — hint` (OTHER-FILE for problems found in a patch). A second line
`# alone` says it is the only problem reported: one mistake, one message, not its consequences too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from showcontrol.cli import main
from showcontrol.errors import ShowFileError
from showcontrol.load.show_file import load_show

CORPUS = Path(__file__).parent / "errors"
CASES = sorted(CORPUS.glob("[0-9]*.yaml"))
EXPECT = re.compile(r"^# expect: (?:(\S+\.yaml):)?(\d+:\d+: .*)$")


def expected_line(case: Path) -> str:
    match = EXPECT.match(case.read_bytes().split(b"\n", 1)[0].decode("utf-8"))  # a case may hold bytes that are not UTF-8 later on
    assert match, f"{case.name} must start with '# expect: LINE:COL: message'"
    return f"{match.group(1) or case.name}:{match.group(2)}"


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_each_bad_file_reports_its_precise_problem(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)  # paths print as the user typed them
    with pytest.raises(ShowFileError) as caught:
        load_show(Path(case.name))
    reported = [str(p) for p in caught.value.problems]
    assert expected_line(case) in reported


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_check_exits_2_with_the_report_and_no_traceback(
    case: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CORPUS)
    assert main(["check", case.name]) == 2
    err = capsys.readouterr().err
    assert expected_line(case) in err.splitlines()
    assert "Traceback" not in err and "problem" in err.splitlines()[-1]


ALONE = [c for c in CASES if c.read_bytes().split(b"\n", 2)[1].startswith(b"# alone")]


@pytest.mark.parametrize("case", ALONE, ids=[c.stem for c in ALONE])
def test_one_mistake_is_one_message(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    with pytest.raises(ShowFileError) as caught:
        load_show(Path(case.name))
    assert [str(p) for p in caught.value.problems] == [expected_line(case)]


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ShowFileError) as caught:
        load_show(CORPUS / "40-many-problems-at-once.yaml")
    assert [p.mark.line for p in caught.value.problems] == [9, 10, 11]


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nsongs: !!python/object/apply:os.system ['touch pwned']\n",
        "version: 1\nsongs:\n  - id: s\n    end: 3.1\n    tempo: [{bar: 1, bpm: 120}]\n"
        "    cues: [{at: 1.1, osc: {to: x, address: /a, args: [!!python/object/apply:os.system ['touch pwned']]}}]\n",
    ],
)
def test_yaml_tags_that_build_objects_are_refused(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.yaml"
    evil.write_text(text)
    with pytest.raises(ShowFileError):
        load_show(evil)
    assert not (tmp_path / "pwned").exists()


def test_a_patch_that_cannot_be_read_is_the_only_problem_its_outputs_cause(show_dir) -> None:
    """A mistyped patch path is one problem, not one more for every cue sending to an output of it."""
    show = show_dir(
        "show.yaml",
        """
        version: 1
        patch: venue.yaml
        songs:
          - id: s
            end: 9.1
            tempo: [{bar: 1, bpm: 120}]
            cues:
              - {at: 1.1, osc: {to: lights, address: /go}}
              - {at: 2.1, midi: {to: keys, note_on: [60, 100]}}
        """,
    )
    with pytest.raises(ShowFileError) as caught:
        load_show(show)
    assert [p.message for p in caught.value.problems] == [f"patch file {show.parent / 'venue.yaml'} not found"]


def test_a_patch_that_cannot_be_read_leads_the_report(show_dir, capsys: pytest.CaptureFixture[str]) -> None:
    """What depends on it (a console's actions, `lights: {cue: 12}`) cannot be read either: the cause comes first."""
    show = show_dir(
        "show.yaml",
        """
        version: 1
        songs:
          - id: s
            end: 9.1
            tempo: [{bar: 1, bpm: 120}]
            cues:
              - {at: 1.1, lights: {cue: 12}}
        """,
    )
    assert main(["check", str(show), "--patch", str(show.parent / "typo.yaml")]) == 2
    assert capsys.readouterr().err.splitlines()[0] == f"{show.parent / 'typo.yaml'}:1:1: patch file not found — check the path"


def test_another_venues_bad_patch_is_its_only_problem_and_comes_first(show_dir, capsys: pytest.CaptureFixture[str]) -> None:
    show = show_dir(
        "show.yaml",
        """
        version: 1
        songs:
          - id: s
            end: 9.1
            tempo: [{bar: 1, bpm: 120}]
            cues:
              - {at: 1.1, lights: {cue: 12}}
              - {at: 2.1, lights: {cue: 13}}
        """,
    )
    venue = CORPUS / "patches" / "unknown-profile.yaml"
    assert main(["check", str(show), "--patch", str(venue)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{venue}:3:61: no device profile 'etc-eoss' — did you mean 'etc-eos'?",
        "1 problem found; nothing was played or written.",
    ]
