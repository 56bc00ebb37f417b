"""Quitting mid-song, however it happens (SIGINT, SIGTERM, twice as `timeout` and impatient operators do,
or `q q` at the terminal): the end report is printed, the exit status says what happened, and every
monitor, also one started later, is told the show stopped (retained), as the show log is."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, start_show
from peers import Broker, Subscriber, wait_until

PREFIX = "sctest/quit/"


def long_show(folder: Path, broker: Broker) -> Path:
    (folder / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 2, buffer_frames: 256}\n"
        f"outputs:\n  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker.port}, topic_prefix: {PREFIX}}}\n"
    )
    show = folder / "show.yaml"
    cues = "\n".join(f"      - {{at: {bar}.1, name: cue{bar}, mqtt: {{to: monitors, topic: fx, payload: go}}}}" for bar in range(2, 40))
    show.write_text(
        f"version: 1\npatch: patch.yaml\nsongs:\n  - id: long\n    end: 41.1\n    tempo: [{{bar: 1, bpm: 120}}]\n    cues:\n{cues}\n"
    )
    return show


def transports(subscriber: Subscriber) -> list[str]:
    return [json.loads(p)["state"] for _, t, p in subscriber.lines if t == PREFIX + "state/transport"]


def retained(broker: Broker) -> dict[str, str]:
    """What a monitor started now is told first: the retained status and transport."""
    out = subprocess.run(
        ["mosquitto_sub", "-p", str(broker.port), "-t", PREFIX + "status", "-t", PREFIX + "state/transport", "-v", "-C", "2", "-W", "60"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def assert_stopped_everywhere(broker: Broker, subscriber: Subscriber, log: Path) -> None:
    wait_until(lambda: transports(subscriber)[-1:] == ["stopped"])
    later = retained(broker)
    assert json.loads(later[PREFIX + "state/transport"])["state"] == "stopped" and later[PREFIX + "status"] == "offline"
    records = [json.loads(line) for line in log.read_text().splitlines()]  # every line whole
    final = [r for r in records if r.get("kind") == "transport"][-1]
    assert final["state"] == "stopped" and final["final"] is True


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("times", [1, 2])
def test_a_signal_mid_song_ends_the_show_cleanly_and_says_so(tmp_path: Path, broker: Broker, name: str, times: int) -> None:
    number = signal.Signals[name]
    subscriber = Subscriber(broker.port, PREFIX + "#")
    log = tmp_path / "show.jsonl"
    process = start_show(long_show(tmp_path, broker), log=log)
    try:
        wait_until(lambda: "playing" in transports(subscriber))
        time.sleep(1.0)
        for _ in range(times):  # `timeout` sends its signal, then another; so does an operator's second Ctrl-C
            process.send_signal(number)
            time.sleep(0.05)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    try:
        assert process.returncode == 128 + number, err  # the shell's way of saying which signal ended it
        assert "Traceback" not in err and f"stopped by {name}" in err
        assert "long: fired" in out and "monitors: up, sent" in out and "show log:" in out  # the whole report
        assert_stopped_everywhere(broker, subscriber, log)
    finally:
        subscriber.close()


@pytest.mark.parametrize("quit_by", ["q q", "Ctrl-C Ctrl-C", "kill -INT"])
def test_quitting_at_the_terminal_mid_song_leaves_every_monitor_told(tmp_path: Path, broker: Broker, quit_by: str) -> None:
    subscriber = Subscriber(broker.port, PREFIX + "#")
    log = tmp_path / "show.jsonl"
    command = [sys.executable, "-m", "showcontrol", "run", str(long_show(tmp_path, broker)), "--audio-driver", "dummy", "--log", str(log)]
    controller, terminal = pty.openpty()
    process = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=subprocess.PIPE, text=True, cwd=REPO)
    os.close(terminal)
    screen = bytearray()

    def read_screen() -> None:  # all the time: a terminal nobody reads would block the screen
        with contextlib.suppress(OSError):  # EIO once the show has exited
            while chunk := os.read(controller, 65536):
                screen.extend(chunk)

    reader = threading.Thread(target=read_screen, daemon=True)
    reader.start()
    try:
        wait_until(lambda: b"GO from 1.1" in screen)  # the screen is up
        os.write(controller, b" ")
        wait_until(lambda: "playing" in transports(subscriber))
        time.sleep(1.0)
        if quit_by == "kill -INT":
            process.send_signal(signal.SIGINT)  # from another shell: the show ends at once, in order
        else:
            os.write(controller, b"qq" if quit_by == "q q" else b"\x03\x03")  # Ctrl-C at the terminal is a key, as q
        process.wait(30)
        reader.join(5)
    finally:
        process.kill()
        os.close(controller)
    try:
        assert process.returncode == (0 if quit_by == "q q" else 130), process.stderr.read() if process.stderr else ""
        assert b"long: fired" in screen
        assert_stopped_everywhere(broker, subscriber, log)
    finally:
        subscriber.close()
