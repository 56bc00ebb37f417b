"""What the beat tracker listens to: per-frame band energies of the recording and their rises (spectral flux).

Log-compressed energies in 40 log-spaced bands; the flux sums their increases from one frame to the next,
so an attack in any instrument shows, and the lowest bands (kick and bass) give a second curve that
marks where bars begin. Computed in chunks so a 4-minute song never holds its whole spectrogram.
The flux finds the beats but peaks where an attack's bulk arrives, which for a plucked bass or a soft
piano is 5-15 ms after the note starts; a finer curve, the attack envelope, says where notes start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Curve = npt.NDArray[np.float64]

ANALYSIS_RATE = 22050
FFT_SIZE = 512
HOP = 64  # 2.9 ms frames: beats are refined to within a frame, then between frames
BANDS = 40
LOW_BAND_HZ = 160.0
CHUNK_FRAMES = 4096
CHROMA_FFT = 4096  # 5 Hz bins: pitch classes down to ~80 Hz
CHROMA_HOP = 1024
CHROMA_RANGE_HZ = (80.0, 2000.0)
ATTACK_BLOCK = 11  # 0.5 ms at ANALYSIS_RATE: the attack envelope's resolution


@dataclass(frozen=True)
class Onsets:
    """`flux` and `low_flux` per frame; frame k is centred `k * HOP` samples into the recording."""

    frame_rate: float
    flux: Curve
    low_flux: Curve
    chroma: Curve  # (chroma frames, 12) log energy per pitch class, CHROMA_HOP apart: harmony changes at bar lines
    chroma_rate: float
    attack: Curve  # high-frequency content in dB per ATTACK_BLOCK samples (see `attack_envelope`)
    attack_rate: float


def band_matrix(sample_rate: int) -> tuple[npt.NDArray[np.float32], int]:
    """Triangular log-spaced bands from 30 Hz to 8 kHz over the FFT bins; also how many bands lie below LOW_BAND_HZ."""
    bins = np.fft.rfftfreq(FFT_SIZE, 1 / sample_rate)
    edges = np.geomspace(30.0, 8000.0, BANDS + 2)
    matrix = np.zeros((len(bins), BANDS), np.float32)
    for band in range(BANDS):
        low, centre, high = edges[band : band + 3]
        rising = (bins - low) / (centre - low)
        falling = (high - bins) / (high - centre)
        matrix[:, band] = np.clip(np.minimum(rising, falling), 0, None)
    matrix[:, 0] = np.maximum(matrix[:, 0], (bins < edges[1]) & (bins > 20))  # the lowest bins, too coarse for triangles
    low_bands = int(np.searchsorted(edges[1:], LOW_BAND_HZ))
    return matrix, max(1, low_bands)


def _frames(mono: npt.NDArray[np.float32], size: int, hop: int) -> npt.NDArray[np.float32]:
    """Centred frames `hop` apart (a view, not a copy)."""
    padded = np.concatenate([np.zeros(size // 2, np.float32), mono.astype(np.float32), np.zeros(size, np.float32)])
    return np.lib.stride_tricks.sliding_window_view(padded, size)[::hop]


def chroma(mono: npt.NDArray[np.float32], sample_rate: int) -> Curve:
    """Energy per pitch class (C = 0) per CHROMA_HOP, log-compressed and normalised per frame."""
    bins = np.fft.rfftfreq(CHROMA_FFT, 1 / sample_rate)
    used = (bins >= CHROMA_RANGE_HZ[0]) & (bins <= CHROMA_RANGE_HZ[1])
    pitch_class = np.round(12 * np.log2(bins[used] / 261.6256)).astype(np.int64) % 12
    fold = np.zeros((int(used.sum()), 12), np.float32)
    fold[np.arange(len(pitch_class)), pitch_class] = 1
    window = np.hanning(CHROMA_FFT).astype(np.float32)
    frames = _frames(mono, CHROMA_FFT, CHROMA_HOP)
    result = np.empty((len(frames), 12))
    for start in range(0, len(frames), CHUNK_FRAMES // 8):
        chunk = frames[start : start + CHUNK_FRAMES // 8] * window
        power = np.abs(np.fft.rfft(chunk, axis=1)[:, used]) ** 2
        result[start : start + len(chunk)] = power @ fold
    logged = np.log1p(1e3 * result)
    return logged / np.maximum(np.linalg.norm(logged, axis=1, keepdims=True), 1e-9)  # type: ignore[no-any-return]


def attack_envelope(mono: npt.NDArray[np.float32]) -> Curve:
    """The energy of the signal's second difference per ATTACK_BLOCK samples, in dB (block k is samples
    k * ATTACK_BLOCK onwards). The second difference weights each partial by its frequency squared
    (Masri's high-frequency content), so a note's first noise and upper partials stand out from the low
    notes still ringing, and the blocks resolve where a note starts to half a millisecond."""
    curvature = np.diff(mono.astype(np.float32), n=2, prepend=np.zeros(2, np.float32))
    blocks = len(curvature) // ATTACK_BLOCK
    energy = np.square(curvature[: blocks * ATTACK_BLOCK].reshape(blocks, ATTACK_BLOCK), dtype=np.float64).mean(axis=1)
    return 10 * np.log10(energy + 1e-12)  # type: ignore[no-any-return]


def onset_curves(mono: npt.NDArray[np.float32], sample_rate: int = ANALYSIS_RATE) -> Onsets:
    """Band energies and their flux for a mono recording at `sample_rate` (the caller resamples)."""
    matrix, low_bands = band_matrix(sample_rate)
    window = np.hanning(FFT_SIZE).astype(np.float32)
    frames_view = _frames(mono, FFT_SIZE, HOP)
    count = len(frames_view)
    bands = np.empty((count, BANDS), np.float32)
    for start in range(0, count, CHUNK_FRAMES):
        chunk = frames_view[start : start + CHUNK_FRAMES] * window
        power = np.abs(np.fft.rfft(chunk, axis=1)) ** 2
        bands[start : start + len(chunk)] = power @ matrix
    log_bands = np.log1p(1e4 * bands.astype(np.float64))
    rises = np.clip(np.diff(log_bands, axis=0, prepend=log_bands[:1]), 0, None)
    return Onsets(
        sample_rate / HOP,
        rises.sum(axis=1),
        rises[:, :low_bands].sum(axis=1),
        chroma(mono, sample_rate),
        sample_rate / CHROMA_HOP,
        attack_envelope(mono),
        sample_rate / ATTACK_BLOCK,
    )
