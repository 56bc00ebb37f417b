"""What a running JACK server (jackd, or PipeWire's under pw-jack) offers a patch with `backend: jack`, for
`showcontrol devices`: its rate and period, the audio ports a patch's `ports:` can feed with the playback
latency the server reports for each, the latency cues would wait there, and how the ports get connected.

The server is asked by a short-lived client that never starts one (JackNoStartServer), given
`ASK_WITHIN_S` (audio/jack_calls.py): a stopped or hung server is reported, not waited for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from showcontrol.audio.jack_calls import ServerSilent, within
from showcontrol.audio.jack_latency import cue_latency_frames, playback_ranges

PROBE_NAME = "showcontrol-devices"
ASK_WITHIN_S = 20.0  # a server that answers takes well under a second, on a loaded machine too
START_HINT = (
    "start one (`jackd -d alsa -d hw:CARD -r 48000 -p 256`, or `jackd -d dummy` without a sound card), "
    "or on PipeWire run showcontrol under `pw-jack`"
)


@dataclass(frozen=True, slots=True)
class Destination:
    """An audio port that takes audio (what a patch's `ports:` names), with its playback latency range in frames."""

    name: str
    physical: bool
    playback: tuple[int, int]


@dataclass(frozen=True, slots=True)
class NoServer:
    """Why no server's view: none running, no library, or one that does not answer (`hung`: ask it nothing more)."""

    why: str
    hung: bool = False


@dataclass(frozen=True, slots=True)
class JackServer:
    sample_rate: int
    period: int
    destinations: tuple[Destination, ...]


def ask_server(within_s: float = ASK_WITHIN_S) -> JackServer | NoServer:
    """The running server's view, or why there is none (never starts a server)."""
    try:
        return within(_ask, within_s)
    except ServerSilent as silent:
        why = f"did not answer within {silent.within_s:g} s" if silent.within_s is not None else "has not answered our last call yet"
        return NoServer(f"JACK: a server is there but {why} (stopped or hung?): restart it", hung=True)


def _ask() -> JackServer | NoServer:
    try:
        import jack
    except OSError as error:  # the package loads libjack when imported
        return NoServer(f"JACK: no JACK library here ({error}): apt-get install libjack-jackd2-0 (or pipewire-jack)")
    said: list[str] = []
    jack.set_error_function(said.append)  # libjack's own "cannot connect" chatter: the line below says it
    try:
        client = jack.Client(PROBE_NAME, no_start_server=True)
    except jack.JackError as error:
        status = getattr(error, "status", None)
        if status is not None and status.server_failed:
            return NoServer(f"JACK: no server is running (nothing was started); a patch with backend: jack needs one: {START_HINT}")
        return NoServer(f"JACK: cannot reach the server ({error}); {START_HINT}")
    finally:
        jack.set_error_function(None)
    try:
        ports = client.get_ports(is_audio=True, is_input=True)
        ranges = playback_ranges(client, [port.name for port in ports])
        destinations = tuple(Destination(p.name, p.is_physical, ranges[p.name]) for p in ports if p.name in ranges)
        return JackServer(client.samplerate, client.blocksize, tuple(sorted(destinations, key=lambda d: not d.physical)))
    finally:
        client.close()


def _ms(frames: int, rate: int) -> str:
    return f"{frames * 1000 / rate:.2f} ms"


def server_lines(found: JackServer | NoServer) -> list[str]:
    """What `devices` prints about JACK (port names as the server gives them: the caller escapes them)."""
    if isinstance(found, NoServer):
        return [found.why]
    rate, period = found.sample_rate, found.period
    lines = [
        f"JACK server: {rate} Hz, period {period} frames ({_ms(period, rate)}); "
        f"a patch with backend: jack sets sample_rate: {rate} and buffer_frames: {period}"
    ]
    if not found.destinations:
        return [*lines, "  no audio ports take audio on it (nothing for a patch's audio.ports to name): is the interface's driver running?"]
    lines.append("  audio ports a patch's audio.ports can feed, playback latency as the server reports it (min..max):")
    for port in found.destinations:
        low, high = port.playback
        lines.append(f"    {port.name}{' (physical)' if port.physical else ''}: {low}..{high} frames ({_ms(high, rate)})")
    lines.append(f"  cues wait the playback latency of the ports the track feeds, plus the patch's output_latency_ms: {_by_latency(found)}")
    lines.append(f"  connect: {_connect_hint(found.destinations)}")
    return lines


def _by_latency(found: JackServer) -> str:
    """The latency a patch would take, per group of ports that share it (`42.67 ms (2048 frames) on a, b`)."""
    groups: dict[int, list[str]] = {}
    for port in found.destinations:
        groups.setdefault(cue_latency_frames([port.playback], found.period), []).append(port.name)
    return "; ".join(f"{_ms(frames, found.sample_rate)} ({frames} frames) on {', '.join(names)}" for frames, names in groups.items())


def _connect_hint(destinations: Sequence[Destination]) -> str:
    names = [port.name for port in destinations[:2]]
    first, second = names[0], names[-1]
    return (
        f"name each channel's ports in the patch (audio: {{backend: jack, ports: {{1: {first}, 2: {second}}}}}); "
        f"the show connects them when it opens and again whenever one comes back; by hand: jack_connect 'showcontrol:track L' {first}"
    )
