"""OSC over TCP to a real server acting as an Eos console (both framings, and a console that reboots
mid-show), and OSC bundles timetagged with each cue's due time over UDP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import start_show
from peers import TcpOscServer, UdpReceiver
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage


def write_show(folder: Path, output: str, beats: int = 24) -> Path:
    (folder / "patch.yaml").write_text(
        f"version: 1\naudio: {{sample_rate: 48000, channels: 2, routes: {{click: [1, 2]}}}}\noutputs:\n  lights: {output}\n"
    )
    cues = "\n".join(
        f"      - {{at: {1 + n // 4}.{1 + n % 4}, osc: {{to: lights, address: /eos/cue/1/{n + 1}/fire}}}}" for n in range(beats)
    )
    show = folder / "show.yaml"
    show.write_text(
        f"version: 1\npatch: patch.yaml\nsongs:\n  - id: tcp\n    end: {beats // 4 + 1}.1\n    tempo: [{{bar: 1, bpm: 240}}]\n    cues:\n{cues}\n"
    )
    return show


def cue_numbers(packets: list[tuple[int, bytes]]) -> list[int]:
    return [int(OscMessage(p).address.split("/")[4]) for _, p in packets]


@pytest.mark.parametrize("framing", ["length", "slip"])
def test_a_console_on_tcp_gets_every_cue_framed_and_sees_us_reconnect_after_it_restarts(tmp_path: Path, framing: str) -> None:
    console = TcpOscServer(framing).start()
    show = write_show(tmp_path, f"{{type: osc, host: 127.0.0.1, port: {console.port}, transport: tcp, framing: {framing}}}")
    process = start_show(show)
    try:
        deadline = time.monotonic() + 60
        while len(console.packets) < 8 and time.monotonic() < deadline:  # two bars in
            time.sleep(0.01)
        console.stop()  # the desk reboots, briefly: the cues queued meanwhile must not go stale (2 s), whatever the
        time.sleep(0.2)  # output's jittered backoff (its third try comes 1.4-2.1 s after the loss) and the machine's load
        console.start()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        console.stop()
    assert process.returncode == 0, err
    numbers = cue_numbers(console.packets)
    assert numbers == sorted(set(numbers)) and numbers[0] == 1 and numbers[-1] == 24  # in order, none twice
    assert len(numbers) >= 23  # at most the one in flight as the desk went down is lost (TCP cannot tell)
    assert console.connections == 2 and {n for n, _ in console.packets} == {1, 2}
    log = [json.loads(line) for line in show.with_suffix(".jsonl").read_text().splitlines()]
    assert len([r for r in log if r.get("kind") == "osc"]) == 24  # every cue accounted for
    assert "lights: up" in out


def test_bundles_carry_the_due_time_of_each_cue(tmp_path: Path) -> None:
    receiver = UdpReceiver()
    show = write_show(tmp_path, f"{{type: osc, host: 127.0.0.1, port: {receiver.port}, bundles: true}}", beats=8)
    try:
        process = start_show(show)
        _, err = process.communicate(timeout=60)
    finally:
        receiver.close()
    assert process.returncode == 0, err
    bundles = [OscBundle(d) for _, d in receiver.datagrams]
    assert [b.content(0).address for b in bundles] == [f"/eos/cue/1/{n}/fire" for n in range(1, 9)]
    scheduled = [r["scheduled"] for r in map(json.loads, show.with_suffix(".jsonl").read_text().splitlines()) if r.get("kind") == "osc"]
    # the timetag is the cue's deadline (both sides turn the monotonic deadline into wall time, each with its own offset)
    assert len(scheduled) == len(bundles) and all(abs(b.timestamp - s) < 2e-4 for b, s in zip(bundles, scheduled, strict=True))
