"""Editing a show file in place: the only module that uses ruamel.yaml (MIT), whose round trip keeps every
comment, key order and flow style of the lines it does not change. PyYAML (the loader) would lose them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from showcontrol.atomic_write import atomic_path
from showcontrol.errors import ShowControlError


@dataclass(frozen=True)
class Entry:
    """A song entry as plain values, with end-of-line comments for tempo entries (by index) and a header."""

    values: Mapping[str, Any]
    tempo_comments: Mapping[int, str]
    header: tuple[str, ...]


def _yaml() -> YAML:
    yaml = YAML()  # round-trip mode; it builds no objects from tags
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _flow(value: Any) -> Any:
    """Mappings inside lists (tempo entries) and small mappings (sections) are written on one line."""
    if isinstance(value, dict):
        mapping = CommentedMap(value)
        mapping.fa.set_flow_style()
        return mapping
    return value


def _commented(entry: Entry) -> CommentedMap:
    song = CommentedMap()
    for key, value in entry.values.items():
        if key == "tempo":
            tempo = CommentedSeq([_flow(item) for item in value])
            for index, text in entry.tempo_comments.items():
                tempo.yaml_add_eol_comment(text, index)
            song[key] = tempo
        else:
            song[key] = _flow(value)
    return song


def entry_text(entry: Entry) -> str:
    """The entry as YAML, an item of a `songs:` list, ready to paste."""
    stream = io.StringIO()
    _yaml().dump(CommentedSeq([_commented(entry)]), stream)
    text = stream.getvalue()
    return "".join(f"# {line}\n" for line in entry.header) + text + ("" if text.endswith("\n") else "\n")


def _rewrite(show_path: Path, change: Callable[[CommentedSeq], None], validate: Callable[[Path], None]) -> None:
    """Load the show round-trip, let `change` edit its songs, and replace the file atomically once
    `validate` accepted the new text (raise to refuse it)."""
    yaml = _yaml()
    try:
        document = yaml.load(show_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ShowControlError(f"cannot read {show_path}: {error}") from None
    except YAMLError as error:
        raise ShowControlError(f"{show_path} is not valid YAML ({error}); fix it with `showcontrol check` first") from None
    if not isinstance(document, CommentedMap) or not isinstance(document.get("songs", []), list):
        raise ShowControlError(f"{show_path}: a show file is a mapping with a songs: list (see docs/show-file.md)")
    change(document.setdefault("songs", CommentedSeq()))
    stream = io.StringIO()
    yaml.dump(document, stream)
    with atomic_path(show_path) as temporary:
        temporary.write_text(stream.getvalue(), encoding="utf-8")
        validate(temporary)


def _song(songs: CommentedSeq, song_id: object) -> CommentedMap | None:
    return next((s for s in songs if isinstance(s, CommentedMap) and s.get("id") == song_id), None)


def write_song(show_path: Path, entry: Entry, validate: Callable[[Path], None]) -> bool:
    """Put the entry into the show: replace the keys it has in the song with its id, or append a new song.

    Written atomically, and only after `validate` accepted the new file. Returns True if the song was new.
    """
    added = []

    def change(songs: CommentedSeq) -> None:
        new = _commented(entry)
        existing = _song(songs, entry.values["id"])
        if existing is None:
            songs.append(new)
            songs.yaml_set_comment_before_after_key(len(songs) - 1, before="\n".join(entry.header), indent=2)
            added.append(True)
        elif "tracks" in existing:
            raise ShowControlError(
                f"song {entry.values['id']} in {show_path} is laid from several tracks: analyze each recording on its own"
            )
        else:
            for key, value in new.items():
                existing[key] = value

    _rewrite(show_path, change, validate)
    return bool(added)


@dataclass(frozen=True)
class Merge:
    """Markers to fold into a song: new cues (position, action as YAML text), new lyric lines (their index in the
    final lyrics, ascending; position, text), and breath marks to set (the line's index in the final lyrics)."""

    cues: Sequence[tuple[str, str, str]]  # (position, name, action YAML such as "lights: {cue: 3}")
    lyrics: Sequence[tuple[int, str, str]]
    breaths: Mapping[int, str]


def merge_markers(show_path: Path, song_id: str, merge: Merge, validate: Callable[[Path], None]) -> None:
    """Add the cues and lyric lines and set the breaths, keeping the rest of the file; atomically, once validated."""
    yaml = _yaml()

    def change(songs: CommentedSeq) -> None:
        song = _song(songs, song_id)
        if song is None:
            raise ShowControlError(f"no song {song_id!r} in {show_path}")
        if merge.cues:
            cues = song.setdefault("cues", CommentedSeq())
            for at, name, action in merge.cues:
                try:
                    actions = yaml.load(action)
                except YAMLError as error:
                    raise ShowControlError(f"--cue-action {action!r} is not YAML: {error}") from None
                if not isinstance(actions, CommentedMap):
                    raise ShowControlError(f"--cue-action {action!r}: give a mapping such as 'lights: {{cue: {{n}}}}'")
                cues.append(_flow({"at": at, "name": name, **actions}))
        lyrics = song.setdefault("lyrics", CommentedSeq()) if merge.lyrics or merge.breaths else None
        if lyrics is not None:
            for index, at, text in merge.lyrics:
                lyrics.insert(index, _flow({"at": at, "text": text}))
            for index, at in merge.breaths.items():
                lyrics[index]["breath"] = at

    _rewrite(show_path, change, validate)
