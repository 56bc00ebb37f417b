"""The dispatcher's send path alone: `Dispatcher._fire` for one OSC cue, to a real UDP socket on loopback and
to an output that does nothing (what the dispatcher itself costs per send), in ns per send.

    python bench/send_path.py [--sends 100000] [--repeats 7]

Prints, for each output, the best and the median of `repeats` runs of `sends` calls (best: the least
disturbed by the machine's other load). The receiving socket is never read: the kernel drops what its
buffer does not hold, which costs the sender nothing. No audio, no clock, no scheduler: what changes the
hot path (how a cue's prepared message is found, the books an output keeps) shows here first.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import time
from pathlib import Path

from showcontrol.audio.clock import ClockMap
from showcontrol.dispatcher import Dispatcher, DispatcherConfig, DispatcherPorts
from showcontrol.engine.plan import Dispatch
from showcontrol.engine.transport import Transport
from showcontrol.io.osc import OscUdpOutput
from showcontrol.io.output import SENT, OutputOf, Result
from showcontrol.load.show_file import load_show
from showcontrol.model.patch import OscOutput
from showcontrol.model.position import BarBeat
from showcontrol.model.show import OscAction
from showcontrol.showlog import ShowLog
from showcontrol.timeline.events import Event, Kind

FAR_NS = 10**15  # every send is due far ahead: never late, so the books take their usual path


class Nothing(OutputOf[bytes]):
    """An output that takes the message and does nothing: the dispatcher's own cost."""

    def prepare(self, event: Event) -> bytes:
        return b""

    def _send(self, message: bytes, event: Event, due_ns: int) -> Result:
        return SENT


class NoDevice:
    clock: ClockMap | None = None
    frames_delivered = 0
    latency_frames = 0

    @property
    def device(self) -> NoDevice:
        return self


def per_send_ns(dispatcher: Dispatcher, item: Dispatch[object], sends: int) -> float:
    fire, due = dispatcher._fire, FAR_NS
    started = time.perf_counter_ns()
    for _ in range(sends):
        fire(item, due)
    elapsed = time.perf_counter_ns() - started
    dispatcher._unlogged.clear()  # the show-log records: built after a burst, not part of a send
    return elapsed / sends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    udp = OscUdpOutput(OscOutput(name="lights", host="127.0.0.1", port=receiver.getsockname()[1])).open()
    with tempfile.TemporaryDirectory() as folder:
        show = Path(folder) / "show.yaml"
        show.write_text("version: 1\nsongs:\n  - id: s\n    end: 3.1\n    tempo: [{bar: 1, bpm: 120}]\n")
        timeline = load_show(show).timelines["s"]
        event = Event(4800, BarBeat(2), Kind.OSC, "lights", OscAction("lights", "/cue/go", (12, 0.5, "intro")))
        with ShowLog(Path(folder) / "show.jsonl") as showlog:
            for output in (udp, Nothing("lights", 0.0)):
                item = Dispatch(event.at_frame, event, output.prepare(event))
                config = DispatcherConfig("s", timeline, (item,), device_latency_ns=0, max_lead_frames=4800)
                dispatcher = Dispatcher(config, DispatcherPorts(Transport(end_frame=48000), NoDevice(), {"lights": output}, showlog))
                runs = [per_send_ns(dispatcher, item, args.sends) for _ in range(args.repeats)]
                best, median = min(runs), statistics.median(runs)
                print(f"{type(output).__name__:12} ns per send: best {best:7.0f}  median {median:7.0f}  ({args.sends} x {args.repeats})")
    udp.close()
    receiver.close()


if __name__ == "__main__":
    main()
