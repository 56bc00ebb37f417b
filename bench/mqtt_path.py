"""MQTT publish -> receive through one broker: showcontrol's publisher against the usual ways, in one run.

    python bench/mqtt_path.py [--messages 400] [--quiet]

A real-time sender thread (as the dispatcher is) sends, every 50 ms, a retained state message and then
a cue, as a show does on a beat, through each of:
  1. showcontrol's MqttPublisher: the cue written by the sender thread itself on the cue connection,
     the state handed over to the network thread (io/mqtt_cue_line.py);
  2. the same with `cue_connection: false`: both handed over, written in one turn of the network loop;
  3. aiomqtt as a typical program uses it: a queue read by a task that awaits `client.publish` per message;
  4. paho's own threaded client (`loop_start`), publishing from the sender thread.
The four take turns (a block of each, three rounds) so that the machine's changing load is shared.
Receive times are mosquitto_sub's; the other core is kept busy unless --quiet. Needs mosquitto.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import numpy as np
import paho.mqtt.client as mqtt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from peers import Broker, Subscriber  # noqa: E402

from showcontrol.io.mqtt import MqttPublisher, Publication  # noqa: E402
from showcontrol.io.output import Health  # noqa: E402
from showcontrol.model.patch import MqttOutput  # noqa: E402
from showcontrol.model.position import BarBeat  # noqa: E402
from showcontrol.model.show import MqttAction  # noqa: E402
from showcontrol.realtime import DISPATCHER_PRIORITY, raise_priority, shorten_gil_switch_interval  # noqa: E402
from showcontrol.timeline.events import Event, Kind  # noqa: E402

WALL_TO_MONOTONIC_NS = time.monotonic_ns() - time.time_ns()
PERIOD_S = 0.05
STATE = ("bench/state/position", '{"bar": 1, "beat": 1}')
Send = Callable[[str, str, bool], None]  # topic, payload, retain


class Showcontrol:
    def __init__(self, port: int, cue_connection: bool = True) -> None:
        self.output = MqttPublisher(MqttOutput(name="bench", host="127.0.0.1", port=port, cue_connection=cue_connection)).open()
        deadline = time.monotonic() + 5
        while not (self.output.cue_connection_open or (not cue_connection and self.output.status.health is Health.UP)):
            if time.monotonic() > deadline:
                raise SystemExit("showcontrol's MQTT output did not connect")
            time.sleep(0.01)

    def send(self, topic: str, payload: str, retain: bool) -> None:
        if retain:  # the beat's state, as the dispatcher hands it over (output.state)
            self.output._enqueue(Publication(topic, payload, 0, retain, time.monotonic_ns(), False))
            return
        event = Event(0, BarBeat(1), Kind.MQTT, "bench", MqttAction("bench", topic, payload))
        self.output.send(self.output.prepare(event), event, time.monotonic_ns())

    def close(self) -> None:
        self.output.close()


class AiomqttAwaited:
    """A loop thread whose task takes messages off an asyncio.Queue and awaits each publish."""

    def __init__(self, port: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[tuple[str, str, bool] | None] = asyncio.Queue()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(port),), daemon=True)
        self.thread.start()
        self.ready.wait(5)

    async def _run(self, port: int) -> None:
        async with aiomqtt.Client("127.0.0.1", port, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]) as client:
            self.ready.set()
            while (message := await self.queue.get()) is not None:
                topic, payload, retain = message
                await client.publish(topic, payload, retain=retain)

    def send(self, topic: str, payload: str, retain: bool) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (topic, payload, retain))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, None)
        self.thread.join(5)


class PahoThreaded:
    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        time.sleep(0.5)

    def send(self, topic: str, payload: str, retain: bool) -> None:
        self.client.publish(topic, payload, 0, retain)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def drive(send: Send, tag: str, count: int, sent: dict[str, int]) -> None:
    """On a real-time thread: at each deadline, the beat's state, then the cue (its send time recorded)."""

    def run() -> None:
        raise_priority(DISPATCHER_PRIORITY, warn=False)
        start = time.monotonic_ns() + 100_000_000
        for n in range(count):
            due = start + int(n * PERIOD_S * 1e9)
            if (wait := due - 1_000_000 - time.monotonic_ns()) > 0:
                time.sleep(wait / 1e9)
            while time.monotonic_ns() < due:
                pass
            payload = f"{tag}-{n}"
            sent[payload] = time.monotonic_ns()
            send("bench/cue", payload, False)
            send(*STATE, True)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=400, help="cues per way, split over three rounds")
    parser.add_argument("--quiet", action="store_true", help="leave the other core idle")
    args = parser.parse_args()
    shorten_gil_switch_interval()  # as `showcontrol run` does
    ways: dict[str, Callable[[int], Showcontrol | AiomqttAwaited | PahoThreaded]] = {
        "showcontrol": Showcontrol,
        "showcontrol, one conn.": lambda port: Showcontrol(port, cue_connection=False),
        "aiomqtt, awaited": AiomqttAwaited,
        "paho, threaded": PahoThreaded,
    }
    sent: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as name:
        broker = Broker(Path(name))
        broker.start()
        subscriber = Subscriber(broker.port, "bench/cue")
        burner = None if args.quiet else subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for _ in range(3):
                for tag, make in ways.items():
                    way = make(broker.port)
                    drive(way.send, tag, args.messages // 3, sent)
                    time.sleep(0.3)
                    way.close()
            time.sleep(0.5)
        finally:
            if burner is not None:
                burner.kill()
            subscriber.close()
            broker.kill()
    received = {payload: stamp + WALL_TO_MONOTONIC_NS for stamp, _, payload in subscriber.lines}
    print(f"MQTT publish -> receive, ms ({args.messages // 3 * 3} cues each, {'quiet' if args.quiet else 'other core busy'})")
    print(f"{'':20}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}  lost")
    for tag in ways:
        lateness = np.array([received[p] - t for p, t in sent.items() if p.startswith(tag + "-") and p in received]) / 1e6
        lost = sum(1 for p in sent if p.startswith(tag + "-") and p not in received)
        p50, p90, p99 = np.percentile(lateness, [50, 90, 99])
        print(f"{tag:20}{p50:8.3f}{p90:8.3f}{p99:8.3f}{lateness.max():8.3f}  {lost}")


if __name__ == "__main__":
    main()
