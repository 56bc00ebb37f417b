"""A song's audio made in a process of its own while another song plays, handed back in shared memory.

Decoding, resampling, stretching and laying a track, and rendering the click, hold the GIL between
their C calls, and for whole loops of Python: a thread doing it beside the dispatcher made the
dispatcher wait for the interpreter (bench/preparing.py, docs/timing.md). A process has a GIL of its
own. The maker writes each stem into a file of the shared-memory folder (/dev/shm) that the show maps
read-only: the audio is never pickled or copied. The file stays linked while mapped, so dropping a
version only unmaps it (quick: the pages stay in the file); a low-priority thread then unlinks it,
which frees its pages (~15 ms for a 4-min stereo song, not to be spent on the song change).

What can go wrong while a show runs, and what happens then (never a crash, never a GO that waits):
- the maker dies (killed, crashed): another is started and asked again; one that cannot start, or
  dies MAX_STARTS times, leaves the songs to be made in the show's process (logged once, reported);
- the shared-memory folder is missing, read-only or too small (Docker gives 64 MB): the stem goes to
  a file in the cache folder instead, read into the show's memory and removed at once; with no room
  there either, that song is made in the show's process;
- the show is killed: its maker sees its parent's sentinel close and exits; the files, named after
  the show's pid, are removed by the next run that finds that pid gone.
The folder comes from SHOWCONTROL_SHARED_MEMORY (default /dev/shm), which tests point elsewhere.
The maker is a fresh interpreter (no copy of the show's threads and locks) in a process group of its
own: a Ctrl-C at the terminal reaches the whole foreground group, and one that reached the maker as its
interpreter starts up (before any handler of ours) ended it with a traceback on the operator's screen.
The show decides when its maker ends.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import mmap
import os
import pickle
import queue
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from showcontrol.app.version import PreparationCancelled
from showcontrol.audio.click import ClickSounds
from showcontrol.audio.mix import Block, Stem
from showcontrol.errors import ShowControlError
from showcontrol.model.show import Song
from showcontrol.offline import build_stems
from showcontrol.realtime import background_priority, keep_in_ram
from showcontrol.timeline.events import Timeline

log = logging.getLogger(__name__)

MEMORY_FOLDER_VARIABLE = "SHOWCONTROL_SHARED_MEMORY"
DEFAULT_MEMORY_FOLDER = Path("/dev/shm")
PREFIX = "showcontrol-stem-"  # then the pid of the show that maps it, and its maker's token (one show, one maker each)
MAX_STARTS = 3  # the maker started again after it died, up to this many times in a run
UNLINK_AFTER_S = 1.0  # after a mapping is closed, before its file is unlinked (which frees the pages)
OOM_SCORE_ADJ = 1000  # the maker first in line for the kernel's out-of-memory killer
KILLED_JOIN_S = 5.0  # a killed maker is gone within this (SIGKILL cannot be caught)
Request = tuple[Song, Timeline, dict[str, tuple[int, ...]], ClickSounds, int | None]  # build_stems's arguments


@dataclass(frozen=True)
class StemFolders:
    memory: Path  # mapped by the show: the stems' home
    disk: Path  # where the memory folder has no room: read into the show's memory, then removed


def stem_folders() -> StemFolders:
    memory = Path(os.environ.get(MEMORY_FOLDER_VARIABLE) or DEFAULT_MEMORY_FOLDER)
    return StemFolders(memory, _cache_home() / "showcontrol" / "stems")


def _cache_home() -> Path:
    if cache := os.environ.get("XDG_CACHE_HOME"):
        return Path(cache)
    try:
        return Path.home() / ".cache"
    except RuntimeError:  # a service with no home
        return Path(tempfile.gettempdir())


@dataclass(frozen=True)
class SharedStem:
    feed: str
    origin_frame: int
    shape: tuple[int, int]  # frames, channels (float32)
    path: str  # "" for an empty stem
    mapped: bool  # in the memory folder (mapped), or on disk (read, then removed)


@dataclass(frozen=True)
class Made:
    stems: tuple[SharedStem, ...]
    memory_refused: str | None  # why a stem went to disk instead


@dataclass(frozen=True)
class Failed:
    reason: str
    no_room: bool  # nowhere to put the stems (else the song itself failed: a track unreadable, ...)


@dataclass(frozen=True)
class Logged:
    """A log record of the maker's ("time-stretching ..."), logged again by the show: its screen, its log."""

    level: int
    name: str
    message: str


class NoRoom(OSError):
    """Neither folder took a stem."""


class StemMaker:
    """`maker.stems(...)` from any thread, one at a time: the stems made in the maker's process (started
    at the first call, at the lowest priority), or in this one where it cannot be. `notes` counts every
    fallback for the run's report; `close()` ends the maker and removes this run's files."""

    def __init__(self, folders: StemFolders | None = None) -> None:
        self.folders = folders or stem_folders()
        self.notes: collections.Counter[str] = collections.Counter()  # what fell back -> how many times
        self._asking = threading.Lock()  # one request at a time on the connection
        self._starting = threading.Lock()  # a start and close() never cross
        self._process: subprocess.Popen[bytes] | None = None
        self._lifeline: tuple[int, int] | None = None  # a pipe: its write end closing tells the makers the show is gone
        self._connection: Connection | None = None
        self._starts = 0
        self._given_up: str | None = None  # why songs are now made in this process
        self._closed = False
        self._handed: set[Path] = set()  # mapped files handed over, not yet unlinked
        self._dropped: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._unlinker: threading.Thread | None = None
        self._owner = f"{os.getpid()}-{secrets.token_hex(4)}"  # what this maker's files are named after

    @property
    def pid(self) -> int | None:
        """The maker's process id while one runs (tests kill it)."""
        process = self._process
        return process.pid if process is not None else None

    def stems(
        self, song: Song, timeline: Timeline, routes: Mapping[str, tuple[int, ...]], sounds: ClickSounds, keep_pitch_at: int | None
    ) -> dict[str, Stem]:
        request: Request = (song, timeline, dict(routes), sounds, keep_pitch_at)
        with self._asking:
            made = self._made_elsewhere(request)
        if made is None:  # the maker given up on, or no room for its files: here, holding the GIL as before
            return build_stems(*request)
        return self._received(made)

    def start(self) -> None:
        """The maker started now (as a set opens, while nothing plays: its interpreter starts up at the caller's
        priority and lowers itself to the lowest before it makes a song), not at its first song, where its
        start-up would run at nice 19 too, which a busy machine starves for seconds."""
        with self._asking:
            if self._connection is None and self._given_up is None:
                try:
                    self._start()
                except OSError as error:
                    self._give_up(f"the stem maker could not start ({error.strerror or error})")

    def close(self) -> None:
        """The maker killed, busy or not (nothing it makes is wanted now); this run's files unlinked (their
        pages go when this process unmaps them, at the latest when it exits)."""
        with self._starting:
            self._closed = True
            process = self._process
        if process is not None:
            _end(process)
        with self._starting:
            lifeline, self._lifeline = self._lifeline, None
        for end in lifeline or ():
            os.close(end)
        self._dropped.put(None)
        self._remove_files(keep=set())

    # -- this process ----------------------------------------------------------------------
    def _made_elsewhere(self, request: Request) -> Made | None:
        """The maker's answer, restarting it after a death; None: make the song here."""
        while self._given_up is None:
            try:
                connection = self._connection or self._start()
            except OSError as error:
                self._give_up(f"the stem maker could not start ({error.strerror or error})")
                break
            try:
                connection.send(request)  # pickled whole before a byte is sent: a failure leaves the connection usable
            except (pickle.PicklingError, TypeError, AttributeError) as error:
                self._note(f"songs made in the show's process: one could not be sent to the stem maker ({error})")
                return None
            except OSError:
                self._ended()
                continue
            try:
                reply = connection.recv()
                while isinstance(reply, Logged):  # said while the song is made
                    logging.getLogger(reply.name).log(reply.level, "%s", reply.message)
                    reply = connection.recv()
            except (EOFError, OSError):
                self._ended()
                continue
            if isinstance(reply, Made):
                if reply.memory_refused is not None:
                    self._note(f"stems on disk in {self.folders.disk}, not in shared memory ({reply.memory_refused})")
                return reply
            assert isinstance(reply, Failed)
            if not reply.no_room:
                raise ShowControlError(reply.reason)
            self._note(f"songs made in the show's process: no room for their stems ({reply.reason})")
            return None
        assert self._given_up is not None
        self._note(self._given_up)
        return None

    def _start(self) -> Connection:
        with self._starting:
            if self._closed:
                raise PreparationCancelled("the run is ending")
            if self._lifeline is None:  # its write end closes when this process ends, however it ends
                self._lifeline = os.pipe()
            mine, theirs = socket.socketpair()
            ours = Connection(mine.detach())
            try:
                process = _spawn(theirs.fileno(), self._lifeline[0])  # at the caller's priority: the opening, or nice 19
                ours.send((self._owner, self.folders))
            except BaseException:
                ours.close()
                raise
            finally:
                theirs.close()
            self._starts += 1
            self._process, self._connection = process, ours
        if self._unlinker is None:
            self._unlinker = threading.Thread(target=self._unlink_dropped, name="stem-unlinker", daemon=True)
            self._unlinker.start()
        return ours

    def _ended(self) -> None:
        """The maker died mid-request: what it left is removed, and another starts (or none, past MAX_STARTS)."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            connection.close()
        code = None
        if process is not None:
            code = _end(process)  # a connection broken on a maker still alive: it goes too
        how = _ending(code)
        self._remove_files(keep=self._handed.copy())
        if self._closed:
            raise PreparationCancelled("the run is ending")
        if self._starts >= MAX_STARTS:
            self._give_up(f"the stem maker ended {self._starts} times (last: {how})")
        else:
            self.notes["stem maker ended and was started again"] += 1
            log.warning("the stem maker (pid %s) ended (%s): starting another", process.pid if process else "?", how)

    def _give_up(self, why: str) -> None:
        self._given_up = f"songs made in the show's process: {why}; cues may be late by milliseconds while one is made"

    def _note(self, text: str) -> None:
        """Counted for the report; logged the first time only."""
        if text not in self.notes:
            log.warning("%s", text)
        self.notes[text] += 1

    def _received(self, made: Made) -> dict[str, Stem]:
        stems: dict[str, Stem] = {}
        try:
            for shared in made.stems:
                stems[shared.feed] = Stem(shared.origin_frame, self._taken(shared))
        except BaseException:
            for shared in made.stems:
                if shared.path:
                    Path(shared.path).unlink(missing_ok=True)
            raise
        return stems

    def _taken(self, shared: SharedStem) -> Block:
        if not shared.path:
            return np.zeros(shared.shape, np.float32)
        path = Path(shared.path)
        if not shared.mapped:
            try:
                return _read(path, shared.shape)
            finally:
                path.unlink(missing_ok=True)
        with path.open("rb") as file:
            memory = mmap.mmap(file.fileno(), shared.shape[0] * shared.shape[1] * 4, access=mmap.ACCESS_READ)
        self._handed.add(path)
        weakref.finalize(memory, self._dropped.put, path)  # when the last array on it goes: the mapping is closed
        audio = np.frombuffer(memory, np.float32).reshape(shared.shape)
        keep_in_ram(audio)  # loaded here, off the audio thread, where the show's memory is locked
        return audio

    def _unlink_dropped(self) -> None:
        background_priority()  # freeing the pages is the kernel's work, on this thread's time
        while (path := self._dropped.get()) is not None:
            time.sleep(UNLINK_AFTER_S)
            path.unlink(missing_ok=True)
            self._handed.discard(path)

    def _remove_files(self, keep: set[Path]) -> None:
        """This run's files but those in `keep` (handed over and mapped)."""
        for folder in (self.folders.memory, self.folders.disk):
            for path in _files_of(folder, self._owner):
                if path not in keep:
                    path.unlink(missing_ok=True)


def _ending(code: int | None) -> str:
    if code is None:
        return "its connection broke"
    if code >= 0:
        return f"exit status {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:  # a signal without a name (real-time ones)
        return f"killed by signal {-code}"


def remove_left_behind(folders: StemFolders | None = None) -> int:
    """The stem files of shows that ended without removing theirs (killed): memory until the next boot
    otherwise. Only this user's, and only where their show's pid is gone. How many were removed."""
    folders = folders or stem_folders()
    removed = 0
    for folder in (folders.memory, folders.disk):
        try:
            found = list(folder.glob(PREFIX + "*"))
        except OSError:
            continue
        for path in found:
            owner = path.name.removeprefix(PREFIX).partition("-")[0]
            try:
                if owner.isdigit() and not _alive(int(owner)) and path.stat().st_uid == os.getuid():
                    path.unlink()
                    removed += 1
            except OSError:  # gone meanwhile, or a read-only folder: nothing to do
                continue
    return removed


def _files_of(folder: Path, owner: str) -> list[Path]:
    try:
        return list(folder.glob(f"{PREFIX}{owner}-*"))
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path, shape: tuple[int, int]) -> Block:
    """A stem file from disk into this process's memory (the reads release the GIL)."""
    data = np.empty(shape, np.float32)
    view = data.data.cast("B")
    with path.open("rb", buffering=0) as file:
        done = 0
        while done < len(view):
            got = file.readinto(view[done:])
            if not got:
                raise ShowControlError(f"{path}: the stem maker's file ended early")
            done += got
    return data


def _spawn(connection: int, lifeline: int) -> subprocess.Popen[bytes]:
    """A maker started: this interpreter with the show's import path, in a process group of its own."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(path or os.curdir for path in sys.path))
    command = [sys.executable, "-c", MAKER_COMMAND, str(connection), str(lifeline)]
    return subprocess.Popen(command, pass_fds=(connection, lifeline), env=environment, stdin=subprocess.DEVNULL, process_group=0)


def _end(process: subprocess.Popen[bytes]) -> int | None:
    """A maker killed and reaped (within KILLED_JOIN_S): its exit status, negative for a signal."""
    with contextlib.suppress(OSError):
        process.kill()
    try:
        return process.wait(KILLED_JOIN_S)
    except subprocess.TimeoutExpired:
        return None


# -- the maker's process ----------------------------------------------------------------------
MAKER_COMMAND = "import sys; from showcontrol.app.stem_maker import main; main(sys.argv[1:])"


def main(arguments: list[str]) -> None:
    """The maker's entry: its connection and the show's lifeline, as file descriptors it was given."""
    connection, lifeline = (int(argument) for argument in arguments)
    serve(Connection(connection), lifeline)


def serve(connection: Connection, lifeline: int) -> None:
    """The maker: one request at a time until its connection closes; it never outlives the show."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C sent to its group by hand: the show decides
    background_priority()
    threading.Thread(target=_exit_with_parent, args=(lifeline,), name="parent-watch", daemon=True).start()
    try:
        owner, folders = connection.recv()
    except (EOFError, OSError):
        return
    to_the_show = _ToTheShow(connection)
    logger = logging.getLogger("showcontrol")
    logger.addHandler(to_the_show)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # never on the show's terminal, under its screen
    with contextlib.suppress(OSError):  # short of memory, the kernel kills the maker (restarted), not the show
        Path("/proc/self/oom_score_adj").write_text(str(OOM_SCORE_ADJ))
    while True:
        try:
            request: Request = connection.recv()
        except (EOFError, OSError):
            return
        reply = _made(owner, folders, request)
        try:
            with to_the_show.sending:
                connection.send(reply)
        except OSError:  # the show went meanwhile (its files are the next run's to remove)
            return


class _ToTheShow(logging.Handler):
    """The maker's records, sent to the show as they happen (from any of the maker's threads)."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(logging.INFO)
        self.connection = connection
        self.sending = threading.Lock()  # a record and a reply never interleave on the connection

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self.sending:
                self.connection.send(Logged(record.levelno, record.name, record.getMessage()))
        except OSError:  # the show gone: the maker ends with it
            return
        except Exception:  # a record that cannot be formatted: logging's usual word, never the maker's end
            self.handleError(record)


def _exit_with_parent(lifeline: int) -> None:
    """The show killed (kill -9 included): the write end of its lifeline closes, and the maker goes at once,
    even mid-song (what it wrote is removed by the next run)."""
    with contextlib.suppress(OSError):
        while os.read(lifeline, 1):
            pass
    os._exit(0)


def _made(owner: str, folders: StemFolders, request: Request) -> Made | Failed:
    try:
        built = build_stems(*request)
    except Exception as error:  # the song's own failure: the operator sees it, the maker goes on
        return Failed(str(error) or type(error).__name__, no_room=False)
    shared: list[SharedStem] = []
    refused: str | None = None
    try:
        for feed, stem in built.items():
            data = np.ascontiguousarray(stem.data, np.float32)
            if data.size == 0:
                shared.append(SharedStem(feed, stem.origin_frame, data.shape, "", mapped=True))
                continue
            path, mapped, why = _written(owner, folders, data)
            refused = refused or why
            shared.append(SharedStem(feed, stem.origin_frame, data.shape, str(path), mapped))
    except NoRoom as error:
        _unlink_all(shared)
        return Failed(str(error), no_room=True)
    except BaseException:
        _unlink_all(shared)
        raise
    return Made(tuple(shared), refused)


def _written(owner: str, folders: StemFolders, data: Block) -> tuple[Path, bool, str | None]:
    """`data` in a file of the memory folder, or of the disk folder where that has no room: (file, in
    memory, why not in memory). The space is reserved first, so a full tmpfs refuses now (ENOSPC)
    rather than kill a process on a page it cannot give (SIGBUS)."""
    refused: list[str] = []
    for folder, in_memory in ((folders.memory, True), (folders.disk, False)):
        try:
            if not in_memory:
                folder.mkdir(parents=True, exist_ok=True)
            descriptor, name = tempfile.mkstemp(prefix=f"{PREFIX}{owner}-", dir=folder)
        except OSError as error:
            refused.append(f"{folder}: {error.strerror or error}")
            continue
        try:
            os.posix_fallocate(descriptor, 0, data.nbytes)
            with open(descriptor, "wb", closefd=False) as file:
                file.write(data.data.cast("B"))
        except OSError as error:
            os.unlink(name)
            refused.append(f"{folder}: {error.strerror or error}")
            continue
        finally:
            os.close(descriptor)
        return Path(name), in_memory, refused[0] if refused else None
    raise NoRoom("; ".join(refused))


def _unlink_all(shared: list[SharedStem]) -> None:
    for stem in shared:
        if stem.path:
            Path(stem.path).unlink(missing_ok=True)
