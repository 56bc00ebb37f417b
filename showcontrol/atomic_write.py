"""Every file showcontrol writes is written here: the whole file or nothing, and only a file.

A new file is written beside its target under a temporary name, synced, then renamed over it, so a crash or a full
disk leaves the old file. Renaming over a device, a FIFO or a folder would replace the node itself (`-o /dev/full`
once became a regular file), so the target must be missing or a regular file; a symlink's own target is replaced,
beside it, and the link kept. The temporary name never appears in a message: errors name the user's path.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from showcontrol.errors import BadInputError, ShowControlError

NOT_A_FILE = {
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}


class WriteError(ShowControlError):
    """A file could not be written (a full disk, no permission): the run failed, the old file is kept."""


def target_file(path: Path) -> Path:
    """The regular file that writing `path` replaces: `path`, or the file its symlink names; BadInputError for
    anything else (a device, a FIFO, a folder, a missing folder)."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise BadInputError(f"cannot write {path}: the folder {target.parent} does not exist") from None
        return target
    except OSError as error:
        raise WriteError(f"cannot write {path}: {error.strerror or error}") from None
    if stat.S_ISREG(mode):
        return target
    kind = NOT_A_FILE.get(stat.S_IFMT(mode), "not a regular file")
    raise BadInputError(f"{path} is {kind}, not a file — name a file to write")


def target_folder(path: Path) -> Path:
    """The folder files will be written into (made later if missing): BadInputError now if `path`, or what
    would have to hold it, is something else (a file, a device, a FIFO), before any work is done."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent  # the nearest part of the path that is there: it must be a folder
    try:
        mode = os.stat(existing).st_mode
    except OSError as error:
        raise WriteError(f"cannot write into {path}: {error.strerror or error}") from None
    if stat.S_ISDIR(mode):
        return path
    kind = "a file" if stat.S_ISREG(mode) else NOT_A_FILE.get(stat.S_IFMT(mode), "not a folder")
    where = path if existing == path else f"{path}: {existing}"
    raise BadInputError(f"{where} is {kind}, not a folder — name a folder to write into (it is made if missing)")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`'s target for the caller to write; renamed over the target when the block ends
    without an error, removed otherwise. OSError becomes WriteError naming `path`."""
    target = target_file(path)
    try:
        temporary = _new_file_beside(target)
    except OSError as error:
        raise WriteError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        yield temporary
        with contextlib.suppress(FileNotFoundError):  # a new file has the umask's mode; a replaced one keeps its own
            os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temporary, target)
    except OSError as error:
        raise WriteError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    """`data` as the whole of `path`, atomically."""
    with atomic_path(path) as temporary, temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def write_text(path: Path, text: str) -> None:
    """`text` (UTF-8) as the whole of `path`, atomically."""
    write_bytes(path, text.encode("utf-8"))


def _new_file_beside(target: Path) -> Path:
    """An empty file of a fresh name in `target`'s folder, made with the umask's mode (as `open` would make it)."""
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        with contextlib.suppress(FileExistsError):
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return temporary
