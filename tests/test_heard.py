"""bench/heard.py's witnesses: its clock of the mix (when the sound server mixed each captured frame, told
from when the capture file grew), its arrival stamps, and how it takes a late cue apart. The bench's
verdict on every cue rests on them, so they are tested like the engine's code."""

from __future__ import annotations

import importlib.util
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from peers import UdpReceiver, wait_until

BENCH = Path(__file__).resolve().parent.parent / "bench" / "heard.py"
_spec = importlib.util.spec_from_file_location("heard", BENCH)
assert _spec is not None and _spec.loader is not None
heard = importlib.util.module_from_spec(_spec)
sys.modules["heard"] = heard  # its dataclasses look their module up
_spec.loader.exec_module(heard)

BLOCK = 256
HEADER = 44
CHANNELS = 2
ON_TIME_NS = 50_000  # a write this close to its mix counts as on time


def writes_of(offsets_ms: list[tuple[float, float]], seconds: float, seed: int) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """A capture's growth, one write per block: the sink's clock at each (start s, offset ms) piece of
    `offsets_ms`, most writes on time, one in five late by up to 5 ms (the recorder woken late), three
    in a row 9 ms late at 3.1 s (a late graph catching up, back to back, on the sink's own clock), and
    the last three 3 ms late (a piece at the end has fewer writes under it).
    Returned: the growth samples, each write's true mix time and how late it came."""
    random = np.random.default_rng(seed)
    blocks = int(seconds * heard.RATE / BLOCK)
    ends = np.arange(1, blocks + 1) * BLOCK  # frames captured once each write is done
    nominal_ns = ends * 1e9 / heard.RATE
    offset_ns = np.zeros(blocks)
    for start_s, offset in offsets_ms:
        offset_ns[nominal_ns >= start_s * 1e9] = offset * 1e6
    mixed = nominal_ns + offset_ns
    late = np.where(random.random(blocks) < 0.2, random.uniform(0.1e6, 5e6, blocks), random.uniform(0, ON_TIME_NS, blocks))
    burst = int(np.searchsorted(nominal_ns, 3.1e9))
    late[burst : burst + 3] = 9e6
    late[-3:] = 3e6
    growth = [(int(t), HEADER + int(f) * 4 * CHANNELS) for t, f in zip(mixed + late, ends, strict=True)]
    return growth, mixed, late


def test_the_mix_is_timed_right_on_both_sides_of_a_step_in_the_sinks_clock() -> None:
    # one cycle lost at 2 s (a late graph: the sink's clock steps up by a 256-frame quantum), 40 ms at 4 s
    growth, mixed, late = writes_of([(0, 2.0), (2.0, 2.0 + 256 / 48), (4.0, 42.0 + 256 / 48)], seconds=5, seed=7)
    _, mixed_ns, late_p99_ms = heard.capture_clock(growth, HEADER, CHANNELS)
    on_time = late <= ON_TIME_NS
    errors_ms = np.abs(mixed_ns - mixed)[on_time] / 1e6  # a running minimum: off for 0.25 s after each step
    assert errors_ms.max() <= ON_TIME_NS / 1e6, f"{int((errors_ms > 0.05).sum())} on-time writes off, worst {errors_ms.max():.2f} ms"
    assert 4.0 < late_p99_ms <= 5.0  # the recorder's lateness, as it was made


@pytest.mark.parametrize("seed", range(5))
def test_a_steady_sink_is_one_line_under_the_writes_late_ones_included(seed: int) -> None:
    growth, mixed, _ = writes_of([(0, 3.5)], seconds=4, seed=seed)
    _, mixed_ns, _ = heard.capture_clock(growth, HEADER, CHANNELS)
    assert np.abs(mixed_ns - mixed).max() <= ON_TIME_NS  # the late burst at 3.1 s and the last writes too


def test_a_datagram_is_stamped_when_the_kernel_took_it_in_not_when_the_reader_woke() -> None:
    receiver = UdpReceiver()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for sent in range(1, 4):  # again if the wall clock was stepped meanwhile (this VM's is, now and then)
                before, before_mono = time.time_ns(), time.monotonic_ns()
                sender.sendto(b"cue", ("127.0.0.1", receiver.port))
                after, after_mono = time.time_ns(), time.monotonic_ns()
                wait_until(lambda sent=sent: len(receiver.datagrams) == sent)
                if abs((after - before) - (after_mono - before_mono)) < 1_000_000:
                    break
    finally:
        receiver.close()
    assert receiver.datagrams[-1][1] == b"cue"
    assert before <= receiver.kernel_wall_ns[-1] <= after  # loopback: taken in within the send call


CUE_NS = 250_000_000
FIRST_NS = 1_000_000_000
SDL_LATENCY_NS = -15_000_000  # cues leave a stream's buffer ahead of their audio
LOG_OFFSET_NS = 1_700_000_000_000_000_000  # the show's log is in wall time
USUAL_DISPATCH_NS = 50_000  # due to sent, every cue
USUAL_WAY_NS = 30_000  # sent to taken in


def a_take(late: dict[int, tuple[str, float]], stall_at_cue: int) -> tuple[Any, list[int]]:
    """Forty cues, each mixed on time, sent and taken in as usual but for `late`: cue -> (whose, ms); the
    engine stopped for 30 ms from 1 ms before cue `stall_at_cue` was due to leave."""
    frames = [n * 12_000 for n in range(40)]
    mixed = {frame: float(FIRST_NS + n * CUE_NS) for n, frame in enumerate(frames)}
    scheduled, sent, arrived = {}, {}, {}
    for n, frame in enumerate(frames):
        whose, ms = late.get(n, ("nobody", 0.0))
        due = int(mixed[frame]) + SDL_LATENCY_NS + (round(ms * 1e6) if whose == "the clock" else 0)
        go = due + USUAL_DISPATCH_NS + (round(ms * 1e6) if whose == "the dispatcher" else 0)
        scheduled[n], sent[n] = due + LOG_OFFSET_NS, go + LOG_OFFSET_NS
        arrived[n] = go + USUAL_WAY_NS + (round(ms * 1e6) if whose in ("the way", "stopped") else 0)
    stall = int(mixed[frames[stall_at_cue]]) + SDL_LATENCY_NS - 1_000_000
    take = heard.Take(
        heard_ns=mixed,
        arrivals={"osc": arrived, "mqtt": {}, "schedule": scheduled, "sent": sent},
        stalls_ns=[(stall, stall + 30_000_000)],
        late_writes_p99_ms=0.0,
        gaps=0,
        gaps_in_stalls=0,
        gaps_in_machine_stalls=0,
        other_gaps=[],
        machine_stalled=[],
        machine_late=[(arrived[30] - 4_000_000, arrived[30] - 1_000_000)],  # a 1 ms sleep that took 3 ms
        reading_p99_ms=0.0,
        cycles=heard.ServerCycles("the show's node"),
        cycles_missed=None,
    )
    return take, frames


def test_a_late_cue_is_taken_apart_into_the_clocks_the_dispatchers_and_the_ways() -> None:
    late = {30: ("the dispatcher", 2.0), 33: ("the way", 1.5), 36: ("the clock", -1.5), 20: ("stopped", 25.0)}
    take, frames = a_take(late, stall_at_cue=20)
    latency = (SDL_LATENCY_NS + USUAL_DISPATCH_NS + USUAL_WAY_NS) / 1e6
    found = {cue.cue: cue for cue in heard.late_cues(take, frames, latency)}
    assert sorted(found) == [30, 33, 36]  # cue 20 was due to leave while the engine was stopped: nobody's
    assert {n: cue.whose() for n, cue in found.items()} == {n: late[n][0] for n in found}
    for n, cue in found.items():
        parts = {"the clock": cue.clock_ms, "the dispatcher": cue.dispatcher_ms, "the way": cue.way_ms}
        assert parts.pop(cue.whose()) == pytest.approx(late[n][1], abs=0.001)
        assert all(abs(part) < 0.001 for part in parts.values()), cue
        assert cue.error_ms == pytest.approx(late[n][1], abs=0.001)
    assert found[30].machine_ms == pytest.approx(2.0)  # the probe's sleep overlapped cue 30's way alone
    assert found[33].machine_ms == found[36].machine_ms == 0.0
    assert "3 (the larger part 1 the clock's, 1 the dispatcher's, 1 the way's; 1 of them as the machine probe" in heard.explain(
        list(found.values())
    )


def test_each_gap_in_the_captured_ramp_says_what_the_capture_has_there() -> None:
    """A ramp through its turn (no gap there), with a period of silence, a period the capture lost, a
    period mixed twice, and silence at a skip: each found once, where it is, with what is in between."""
    turn = heard.RAMP_STEPS // 2
    song = np.arange(turn - 3000, turn + 9000) % turn  # the ramp turns 3000 frames in
    silence, skip, again, both = 1000, 4000, 6000, 8000
    values = np.concatenate(
        [
            song[: silence + 1],
            np.zeros(BLOCK, np.int64),  # the show's audio not there for a period
            song[silence + 1 : skip + 1],
            song[skip + 1 + BLOCK : again + 1],  # a period the capture never had
            song[again + 1 - BLOCK : again + 1],  # a period mixed again
            song[again + 1 : both + 1],
            np.zeros(100, np.int64),
            song[both + 1 + 50 :],  # silence, and 50 frames never had
        ]
    )
    gaps = heard.ramp_gaps(values)
    assert [(g.kind(), g.inserted, g.skipped) for g in gaps] == [
        ("silence", BLOCK, 0),
        ("skip", 0, BLOCK),
        ("again", 0, -BLOCK),
        ("mixed", 100, 50),
    ]
    assert [int(values[g.at]) for g in gaps] == [song[silence], song[skip], song[again], song[both]]
    assert heard.ramp_gaps(song) == []


def test_a_gap_is_set_beside_the_machine_probes_lateness_near_it() -> None:
    gaps = [heard.Gap(10, BLOCK, 0), heard.Gap(20, 0, BLOCK)]
    at_ns = np.array([FIRST_NS + 1e9, FIRST_NS + 3e9])
    late = [(int(at_ns[0]) - 30_000_000, int(at_ns[0]) - 26_000_000)]  # a 1 ms sleep that took 4 ms, 26 ms before the first
    seen = heard.seen_gaps(gaps, at_ns, float(FIRST_NS), late)
    assert [(round(g.seconds, 6), g.machine_ms) for g in seen] == [(1.0, pytest.approx(3.0)), (3.0, 0.0)]
    assert heard.gap_summary(seen) == (
        "gaps outside the engine's stalls: 2 (1 silences (the show's audio not there in time), 1 skips (song frames "
        "the capture lacks: lost by it, or dropped by the server); 1 of them as the machine probe was 1 ms late or more)"
    )
