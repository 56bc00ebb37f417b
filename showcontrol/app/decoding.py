"""A song's audio made in a process of its own while another song plays, handed back in shared memory.

Decoding, resampling, stretching and laying a track, and rendering the click, hold the GIL between
their C calls, and for whole loops of Python: a thread doing it beside the dispatcher made the
dispatcher wait for the interpreter (measured by bench/preparing.py: its wake-ups 0.5-5 ms late
while the next song was made ready, a nice-19 holder preempted by other programs the worst). A
process has a GIL of its own. Each stem is written into a file in /dev/shm (memory, not disk) that
this process maps: the audio is never pickled or copied. The memory goes when the song's version
does: the file stays linked while mapped, so dropping the version only unmaps it (quick: the pages
stay in the file), and a thread of the maker's at the lowest priority then unlinks it (which frees
its pages: 15 ms for a 4-min stereo song, measured, not to be spent on the song change). A crash
leaves the files of the run: the next maker removes those of processes that are gone.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import queue
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from showcontrol.audio.click import ClickSounds
from showcontrol.audio.mix import Block, Stem
from showcontrol.model.show import Song
from showcontrol.offline import build_stems
from showcontrol.realtime import background_priority
from showcontrol.timeline.events import Timeline

SHARED_FOLDER = Path("/dev/shm")
PREFIX = "showcontrol-stem-"  # then the pid of the process that maps it
UNLINK_AFTER_S = 1.0  # after its array is dropped: the unmapping is done by then
SharedStem = tuple[str, int, str, tuple[int, int]]  # feed, origin frame, file, shape (frames, channels)


class StemMaker:
    """`maker.stems(...)` from any thread: the stems built in the maker's process (started at its first
    use, at the lowest priority); `close()` ends it."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._dropped: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._unlinker: threading.Thread | None = None

    def stems(
        self, song: Song, timeline: Timeline, routes: Mapping[str, tuple[int, ...]], sounds: ClickSounds, keep_pitch_at: int | None
    ) -> dict[str, Stem]:
        if self._pool is None:
            remove_left_behind()
            self._pool = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"), initializer=background_priority)
            self._unlinker = threading.Thread(target=self._unlink_dropped, name="stem-unlinker", daemon=True)
            self._unlinker.start()  # started from a background thread: at its priority
        shared = self._pool.submit(_build_shared, os.getpid(), song, timeline, dict(routes), sounds, keep_pitch_at).result()
        stems: dict[str, Stem] = {}
        try:
            for feed, origin, name, shape in shared:
                data = _mapped(Path(name), shape)
                weakref.finalize(data, self._dropped.put, Path(name))
                stems[feed] = Stem(origin, data)
        except BaseException:
            for _, _, name, _ in shared:
                Path(name).unlink(missing_ok=True)
            raise
        return stems

    def close(self) -> None:
        """The maker's process ends; the files of the versions still held are unlinked now (their pages go
        when this process unmaps them, at the latest when it exits)."""
        if self._pool is None:
            return
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._dropped.put(None)
        for path in shared_folder().glob(f"{PREFIX}{os.getpid()}-*"):
            path.unlink(missing_ok=True)

    def _unlink_dropped(self) -> None:
        while (dropped := self._dropped.get()) is not None:
            time.sleep(UNLINK_AFTER_S)
            dropped.unlink(missing_ok=True)


def shared_folder() -> Path:
    """Memory on Linux; elsewhere the temporary folder (a file the system may write back: slower, not wrong)."""
    return SHARED_FOLDER if SHARED_FOLDER.is_dir() else Path(tempfile.gettempdir())


def remove_left_behind() -> None:
    """The shared files of runs that ended without removing theirs (killed): memory until the next boot."""
    for path in shared_folder().glob(PREFIX + "*"):
        pid = path.name.removeprefix(PREFIX).partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _build_shared(
    owner: int, song: Song, timeline: Timeline, routes: Mapping[str, tuple[int, ...]], sounds: ClickSounds, keep_pitch_at: int | None
) -> list[SharedStem]:
    """The maker's process: every stem built, each copied into a shared file of its own."""
    shared: list[SharedStem] = []
    try:
        for feed, stem in build_stems(song, timeline, routes, sounds, keep_pitch_at).items():
            frames, channels = stem.data.shape
            name = _shared_file(owner, frames * channels * 4)
            shared.append((feed, stem.origin_frame, str(name), (frames, channels)))
            if frames * channels:
                _mapped(name, (frames, channels))[:] = stem.data
    except BaseException:
        for _, _, made, _ in shared:
            Path(made).unlink(missing_ok=True)
        raise
    return shared


def _shared_file(owner: int, size: int) -> Path:
    descriptor, name = tempfile.mkstemp(prefix=f"{PREFIX}{owner}-", dir=shared_folder())
    try:
        os.ftruncate(descriptor, size)
    finally:
        os.close(descriptor)
    return Path(name)


def _mapped(name: Path, shape: tuple[int, int]) -> Block:
    """The file as a float32 array of `shape`, shared with whoever else maps it; it stays mapped as long
    as the array lives (the file may be unlinked at once)."""
    if shape[0] * shape[1] == 0:
        return np.zeros(shape, np.float32)
    with name.open("r+b") as file:
        memory = mmap.mmap(file.fileno(), shape[0] * shape[1] * 4)
    return np.frombuffer(memory, np.float32).reshape(shape)
