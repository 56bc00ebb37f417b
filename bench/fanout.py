"""Web subscribers at scale: 100 MQTT-over-WebSockets clients on the show's broker while the engine plays
bench/timing.py's show, against the same show with none, in the same run.

    python bench/fanout.py [--subscribers 100] [--minutes 1]

Each subscriber takes everything under the show's prefix (what a performer page subscribes to: every
state message, every beat), as browsers would, from 4 processes of its own. It prints, for both runs,
the engine's dispatch error and the receive lateness of its usual TCP subscriber (bench/timing.py's
figures: they should not move), and the fan-out delay from the engine's send of each MQTT cue (its show
log) to each WebSockets subscriber's receipt, p50 / p99 / max in milliseconds. Needs mosquitto and jackd.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from peers import Broker, free_port, start_jack, wait_for_port  # noqa: E402
from timing import Receivers, report, run_showcontrol, stats, write_show  # noqa: E402

PROCESSES = 4


def subscribe(port: int, count: int, out: Path) -> None:
    """A subscriber process: `count` WebSockets clients on bench/#, recording (cue number, receive ns)."""
    import paho.mqtt.client as mqtt

    got: list[tuple[int, int]] = []
    connected = threading.Semaphore(0)
    clients = []

    def on_connect(client: mqtt.Client, *_: object) -> None:
        client.subscribe("bench/#")
        connected.release()

    def on_message(client: mqtt.Client, data: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == "bench/beat":
            got.append((int(message.payload), time.monotonic_ns()))

    for number in range(count):
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"web-{os.getpid()}-{number}", transport="websockets")
        client.on_message = on_message
        client.on_connect = on_connect
        client.connect("127.0.0.1", port)
        client.loop_start()
        clients.append(client)
    for _ in clients:
        connected.acquire()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    for client in clients:
        client.loop_stop()
    out.write_text(json.dumps(got))


def played(folder: Path, minutes: float, bpm: int, subscribers: int) -> tuple[dict[str, tuple[float, float, float]], list[int]]:
    """One run of the show: timing.py's figures, and the fan-out delays (ns) to the WebSockets subscribers."""
    broker = Broker(folder, websockets_port=free_port())
    broker.start()
    wait_for_port(broker.websockets_port or 0)
    receivers = Receivers(broker.port)
    processes, outs = [], []
    try:
        for index in range(PROCESSES if subscribers else 0):
            out = folder / f"web-{index}.json"
            share = subscribers // PROCESSES + (1 if index < subscribers % PROCESSES else 0)
            command = [sys.executable, __file__, "--subscribe", str(broker.websockets_port), str(share), str(out)]
            process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
            processes.append(process)
            outs.append(out)
        show, patch, _ = write_show(folder, minutes, bpm, receivers.osc.port, broker.port)
        sent, _ = run_showcontrol(show, patch, folder / "show.jsonl", minutes, 30 / bpm)
        rows = report(f"{subscribers} web subscribers", sent, receivers.take())
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        receivers.close()
        broker.kill()
    sent_ns = {n: s for n, (_, s) in enumerate(sent["mqtt"], start=1)}
    delays = [received - sent_ns[n] for out in outs for n, received in json.loads(out.read_text()) if n in sent_ns]
    expected = len(sent_ns) * subscribers
    if subscribers and len(delays) != expected:
        print(f"  note: {len(delays)} of {expected} cue messages reached the web subscribers")
    return rows, delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--bpm", type=int, default=120)
    parser.add_argument("--subscribe", nargs=3, metavar=("PORT", "COUNT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.subscribe:
        subscribe(int(args.subscribe[0]), int(args.subscribe[1]), Path(args.subscribe[2]))
        return
    jack = start_jack()
    if jack is None:
        sys.exit("jackd could not start (apt-get install jackd2)")
    try:
        with tempfile.TemporaryDirectory() as alone, tempfile.TemporaryDirectory() as crowded:
            baseline, _ = played(Path(alone), args.minutes, args.bpm, 0)
            loaded, delays = played(Path(crowded), args.minutes, args.bpm, args.subscribers)
    finally:
        jack.stop()
    print(f"bench/timing.py's show, {args.minutes:g} min, dummy audio driver; milliseconds, p50/p99/max")
    print(f"{'':24}{'no web subscribers':>28}{f'{args.subscribers} web subscribers':>30}")
    for row, (p50, p99, worst) in baseline.items():
        l50, l99, lmax = loaded[row]
        print(f"{row:24}{p50:9.3f}{p99:9.3f}{worst:10.3f}{l50:10.3f}{l99:10.3f}{lmax:10.3f}")
    if delays:
        f50, f99, fmax = stats(delays)
        print(
            f"{'fan-out to web (ws)':24}{'':28}{f50:10.3f}{f99:10.3f}{fmax:10.3f}   engine send -> each WebSockets subscriber, {len(delays)} deliveries"
        )


if __name__ == "__main__":
    main()
