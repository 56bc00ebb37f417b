"""Practice packs: per performer and tempo, the track with that performer's click feed and spoken calls,
as FLAC and as MP3 with chapters at the sections and the lyrics, plus an LRC file of lyrics and breaths.

The audio is `render`'s (offline.render_song, with a two-channel patch that routes the track and the
feed to both channels), at a rehearsal tempo through `compile_at_speed` and the stretch cache, so a pack
plays exactly what `run --tempo` plays in the earpiece.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from showcontrol.atomic_write import write_bytes, write_text
from showcontrol.audio.files import audio_bytes, read_audio
from showcontrol.codec.id3 import chapter_frames, lyrics_frame, tag, text_frame
from showcontrol.errors import BadInputError
from showcontrol.load.show_file import LoadedShow, compile_at_speed
from showcontrol.model.patch import MAIN_CLICK, AudioPatch
from showcontrol.offline import Progress, render_song
from showcontrol.practice_sheet import chapters, lrc_text, lyrics_text

PARALLEL_FILES = 2


@dataclass(frozen=True)
class PackFile:
    performer: str | None
    tempo_percent: Fraction
    paths: tuple[Path, ...]
    seconds: float


def performer_feeds(loaded: LoadedShow, song_id: str, performer: str | None) -> list[tuple[str | None, str]]:
    """(performer, click feed) pairs: the one asked for, or every performer's feed, or the song's click."""
    song = loaded.show.song(song_id)
    spelled = {lyric.performer.lower(): lyric.performer for lyric in song.lyrics if lyric.performer}  # "Ava" in lyrics, "ava" as a feed

    def name(text: str) -> str:
        return spelled.get(text.lower(), text)

    feeds = {feed.name.lower(): feed.feed for feed in song.click_feeds}
    if performer is not None:
        if performer.lower() not in feeds:
            if feeds:
                raise BadInputError(f"--performer {performer}: {song_id} has click feeds for {', '.join(f.name for f in song.click_feeds)}")
            return [(name(performer), MAIN_CLICK)]  # a song with one click for all: their lyrics, the common click
        return [(name(performer), feeds[performer.lower()])]
    if song.click_feeds:
        return [(name(feed.name), feed.feed) for feed in song.click_feeds]
    return [(None, MAIN_CLICK)]


def _file_stem(song_id: str, performer: str | None, tempo_percent: Fraction) -> str:
    who = f"-{performer.lower()}" if performer else ""
    return f"{song_id}{who}-{float(tempo_percent):g}pct"


def make_pack_file(
    loaded: LoadedShow, song_id: str, performer: str | None, feed: str, tempo_percent: Fraction, folder: Path, progress: Progress | None
) -> PackFile:
    """Render one performer at one tempo: NAME.flac, NAME.mp3 (chapters, lyrics) and NAME.lrc, each written atomically."""
    speed = tempo_percent / 100
    timeline = compile_at_speed(loaded, song_id, speed)
    audio = AudioPatch(sample_rate=loaded.sample_rate, channels=2, routes={"track": (0, 1), feed: (0, 1)})
    show = replace(loaded.show, patch=replace(loaded.show.patch, audio=audio))
    at_tempo = replace(loaded, show=show, timelines={song_id: timeline}, speed=speed, keep_pitch=speed != 1)
    song = loaded.show.song(song_id)
    title = song.title or song.id
    stem = folder / _file_stem(song_id, performer, tempo_percent)
    flac, mp3, lrc = stem.with_suffix(".flac"), stem.with_suffix(".mp3"), stem.with_suffix(".lrc")
    result = render_song(at_tempo, song_id, flac, None, progress, "PCM_16")
    mix = read_audio(flac, loaded.sample_rate)
    heading = f"{title}{f' — {performer}' if performer else ''} at {float(tempo_percent):g} %"
    id3 = tag(
        [
            text_frame("TIT2", heading),
            text_frame("TALB", loaded.show.title or "showcontrol practice"),
            *([text_frame("TPE1", performer)] if performer else []),
            chapter_frames(chapters(timeline, loaded.sample_rate)),
            *([lyrics_frame(text)] if (text := lyrics_text(timeline, performer)) else []),
        ]
    )
    write_bytes(mp3, id3 + audio_bytes(mp3, iter([mix]), loaded.sample_rate, 2))
    write_text(lrc, lrc_text(timeline, loaded.sample_rate, heading, performer, tempo_percent))
    return PackFile(performer, tempo_percent, (mp3, flac, lrc), result.frames / result.sample_rate)


class _PackProgress:
    """One bar for the whole pack: each file counts for one part, by how far its mix has got (files run two at a time)."""

    def __init__(self, files: int, progress: Progress) -> None:
        self.parts = [0.0] * files
        self.progress = progress
        self.lock = threading.Lock()

    def part(self, index: int) -> Progress:
        def report(done: int, total: int) -> None:
            with self.lock:
                self.parts[index] = done / total if total else 1.0
                self.progress(round(sum(self.parts) * 1000), len(self.parts) * 1000)

        return report


def make_pack(
    loaded: LoadedShow, song_id: str, performer: str | None, tempos: list[Fraction], folder: Path, progress: Progress
) -> list[PackFile]:
    """Every (performer, tempo) file of a pack, into `folder` (made if missing).

    Two files are made at a time: decoding, stretching, mixing and MP3 encoding release the GIL, and on two
    cores that halves the wait. Tempos of one performer run side by side, so no stretch is made twice.
    """
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(who, feed, tempo) for who, feed in performer_feeds(loaded, song_id, performer) for tempo in tempos]
    overall = _PackProgress(len(jobs), progress)
    with ThreadPoolExecutor(max_workers=PARALLEL_FILES) as pool:
        futures = [
            pool.submit(make_pack_file, loaded, song_id, who, feed, tempo, folder, overall.part(index))
            for index, (who, feed, tempo) in enumerate(jobs)
        ]
        return [future.result() for future in futures]
