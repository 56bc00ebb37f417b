"""libltc's reference LTC decoder through ctypes (Debian libltc11), for checking what we render."""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

import numpy as np


class _SMPTETimecode(ctypes.Structure):
    _fields_ = [
        ("timezone", ctypes.c_char * 6),
        ("years", ctypes.c_ubyte),
        ("months", ctypes.c_ubyte),
        ("days", ctypes.c_ubyte),
        ("hours", ctypes.c_ubyte),
        ("mins", ctypes.c_ubyte),
        ("secs", ctypes.c_ubyte),
        ("frame", ctypes.c_ubyte),
    ]


class _LTCFrameExt(ctypes.Structure):
    _fields_ = [
        ("ltc", ctypes.c_ubyte * 10),
        ("off_start", ctypes.c_longlong),
        ("off_end", ctypes.c_longlong),
        ("reverse", ctypes.c_int),
        ("biphase_tics", ctypes.c_float * 80),
        ("sample_min", ctypes.c_ubyte),
        ("sample_max", ctypes.c_ubyte),
        ("volume", ctypes.c_double),
    ]


@dataclass(frozen=True)
class DecodedFrame:
    label: tuple[int, int, int, int]
    drop: bool
    off_start: int
    off_end: int


def load() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("ltc") or "libltc.so.11"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.ltc_decoder_create.restype = ctypes.c_void_p
    lib.ltc_decoder_create.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.ltc_decoder_write_float.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_longlong]
    lib.ltc_decoder_read.argtypes = [ctypes.c_void_p, ctypes.POINTER(_LTCFrameExt)]
    lib.ltc_decoder_free.argtypes = [ctypes.c_void_p]
    lib.ltc_frame_to_time.argtypes = [ctypes.POINTER(_SMPTETimecode), ctypes.c_void_p, ctypes.c_int]
    return lib


def decode(lib: ctypes.CDLL | None, signal: np.ndarray, samples_per_frame: float) -> list[DecodedFrame]:
    """Every frame libltc reports, with the sample offsets it gives for each (`lib`: `load()`'s, where it found libltc)."""
    assert lib is not None, "libltc is not installed: the test should have been skipped"
    decoder = lib.ltc_decoder_create(int(samples_per_frame), 64)
    frames: list[DecodedFrame] = []
    data = np.ascontiguousarray(signal, dtype=np.float32)
    try:
        ext = _LTCFrameExt()
        stamp = _SMPTETimecode()
        for start in range(0, len(data), 1024):
            chunk = data[start : start + 1024]
            lib.ltc_decoder_write_float(decoder, chunk.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), len(chunk), start)
            while lib.ltc_decoder_read(decoder, ctypes.byref(ext)):
                lib.ltc_frame_to_time(ctypes.byref(stamp), ctypes.addressof(ext.ltc), 0)
                drop = bool(ext.ltc[1] & 0x04)
                frames.append(DecodedFrame((stamp.hours, stamp.mins, stamp.secs, stamp.frame), drop, ext.off_start, ext.off_end))
    finally:
        lib.ltc_decoder_free(decoder)
    return frames
