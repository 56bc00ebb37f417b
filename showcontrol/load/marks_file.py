"""The sidecar file of markers dropped in `run`: one per song beside the show, rewritten whole and
atomically at every marker (a crash keeps all but the marker being written), read back by `merge`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from showcontrol.atomic_write import write_text
from showcontrol.errors import Problem, ShowFileError, SourceMark
from showcontrol.marks import MARK_KINDS, Marker
from showcontrol.model.position import BarBeat, parse_position

HEADER = "# markers dropped in `showcontrol run`; fold them into the show with: showcontrol merge SHOW MARKS\n"


def marks_path(show_path: Path, song_id: str) -> Path:
    return show_path.with_name(f"{show_path.stem}.{song_id}.marks.yaml")


def write_marks(path: Path, show_path: Path, song_id: str, markers: Sequence[Marker]) -> None:
    document = {
        "show": show_path.name,
        "song": song_id,
        "markers": [
            {"kind": m.kind, "at": str(m.at), "heard": str(m.heard), "seconds": round(m.seconds, 3), **({"raw": True} if m.raw else {})}
            for m in markers
        ],
    }
    write_text(path, HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=None, width=200))


def read_marks(path: Path) -> tuple[str, list[tuple[str, BarBeat]]]:
    """The song id and (kind, position) of each marker; raises ShowFileError naming what is wrong."""
    mark = SourceMark(str(path), 1, 1)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShowFileError([Problem(mark, "marks file not found", "run the song with `showcontrol run` and press c, y or b")]) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ShowFileError([Problem(mark, f"cannot read the marks file: {error}", "it is written by `showcontrol run`")]) from None
    if not isinstance(document, dict) or not isinstance(document.get("song"), str) or not isinstance(document.get("markers"), list):
        raise ShowFileError([Problem(mark, "not a marks file: it needs song: and markers:", "it is written by `showcontrol run`")])
    markers: list[tuple[str, BarBeat]] = []
    problems = []
    for index, item in enumerate(document["markers"], start=1):
        kind = str(item.get("kind")) if isinstance(item, dict) else ""
        try:
            at = parse_position(str(item.get("at"))) if isinstance(item, dict) else None
        except ValueError:
            at = None
        if kind not in MARK_KINDS.values() or not isinstance(at, BarBeat):
            problems.append(Problem(mark, f"marker {index} is not a cue, lyric or breath at a bar.beat", "e.g. {kind: cue, at: 9.1}"))
            continue
        markers.append((kind, at))
    if problems:
        raise ShowFileError(problems)
    return str(document["song"]), markers
