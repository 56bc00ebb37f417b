"""OSC over UDP to a console that is not listening, that comes back, and that moves to another address:
the show log and the report count what really happened, and health changes are said once, not per cue."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, run_show_to_the_end
from peers import UdpReceiver, free_port, wait_until
from test_transport_run import beat_show, received

from showcontrol.io.osc import RECOVER_NS, OscUdpOutput
from showcontrol.io.output import Health
from showcontrol.model.patch import OscOutput


def osc_records(log: Path) -> list[dict[str, object]]:
    return [r for line in log.read_text().splitlines() if (r := json.loads(line)).get("kind") == "osc"]


def test_cues_to_a_closed_port_are_errors_not_half_sent_and_the_output_goes_down_once(tmp_path: Path) -> None:
    closed = free_port(socket.SOCK_DGRAM)
    log = tmp_path / "show.jsonl"
    result = run_show_to_the_end(beat_show(tmp_path, closed, bars=4), log=log)
    assert result.returncode == 0, result.stderr
    results = [str(r["result"]) for r in osc_records(log)]
    assert len(results) == 16 and all(r == f"error: 127.0.0.1:{closed}: Connection refused" for r in results), results
    report = re.search(r"lights: down, sent 0, late \d+, dropped 0, errors 16 \(last: 127.0.0.1:(\d+): Connection refused\)", result.stdout)
    assert report is not None and report[1] == str(closed), result.stdout  # lateness is the machine's: bench/, not here
    changes = [line.split(": ", 1)[1] for line in result.stderr.splitlines() if "output lights is" in line]
    assert changes == [
        "output lights is up",
        f"output lights is down: 127.0.0.1:{closed}: Connection refused",
    ]  # opened, then refused: once


def test_a_console_that_comes_back_is_sent_to_and_shown_up_once_after_the_hold_off(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port(socket.SOCK_DGRAM)
    caplog.set_level(logging.INFO, logger="showcontrol.io.output")
    output = OscUdpOutput(OscOutput(name="lights", host="127.0.0.1", port=port)).open()
    results = []
    console = None
    try:
        for n in range(6):
            results.append(output.send_now(b"/cue %d" % n))
            time.sleep(0.05)
        console = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        console.bind(("127.0.0.1", port))
        up_after = time.monotonic_ns() + RECOVER_NS
        while output.status.health is not Health.UP:
            assert time.monotonic_ns() < up_after + 30_000_000_000, "never up again"  # a hang, not a slow machine
            results.append(output.send_now(b"/cue"))
            time.sleep(0.1)
        assert time.monotonic_ns() >= up_after  # not before the hold-off
    finally:
        output.close()
        if console is not None:
            console.close()
    assert results[:6] == [f"error: 127.0.0.1:{port}: Connection refused"] * 6
    assert set(results[6:]) == {"sent"} and output.status.counters.sent == len(results) - 6
    assert output.status.counters.errors == 6
    changes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("output lights is")]
    assert changes == ["output lights is up", f"output lights is down: 127.0.0.1:{port}: Connection refused", "output lights is up"]


def log_records(log: Path) -> list[dict[str, str]]:
    """The whole records of a show log being written (none before it exists)."""
    lines = log.read_text().split("\n")[:-1] if log.exists() else []
    return [json.loads(line) for line in lines]


def test_a_host_name_is_resolved_again_after_a_failure(tmp_path: Path) -> None:
    """The console's name first points where nobody listens, then (a DHCP lease, a fixed typo in the
    venue's hosts file) at the console: the show finds it without a restart. The name lives in a hosts
    file bind-mounted over /etc/hosts in a mount namespace of the show's own."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (util-linux) for a private /etc/hosts")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.2 console.test\n")  # the receiver listens on 127.0.0.1 only: refused there
    receiver = UdpReceiver()
    show = beat_show(tmp_path, receiver.port, bars=8)
    patch = tmp_path / "patch.yaml"
    patch.write_text(patch.read_text().replace("host: 127.0.0.1", "host: console.test"))
    log = tmp_path / "show.jsonl"
    run = [sys.executable, "-m", "showcontrol", "run", str(show), "--headless", "--audio-driver", "dummy", "--log", str(log)]
    command = ["unshare", "--mount", "sh", "-c", f'mount --bind "{hosts}" /etc/hosts && exec "$@"', "sh", *run]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        wait_until(lambda: any(r.get("result", "").startswith("error") for r in log_records(log)), timeout=60)  # the name failed
        hosts.write_text("127.0.0.1 console.test\n")  # the same file (inode): the bind mount shows the change
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
        receiver.close()
    if "unshare failed" in err or "mount:" in err:
        pytest.skip(f"no private mount namespace here: {err.strip()}")
    assert process.returncode == 0, err
    assert "output lights: console.test is now 127.0.0.1" in err
    beats = [(bar, beat) for bar in range(1, 9) for beat in range(1, 5)]
    got = received(receiver)
    assert len(got) >= 8 and got == beats[len(beats) - len(got) :]  # every cue from the move on
    results = [str(r["result"]) for r in osc_records(log)]
    first_sent = results.index("sent")
    assert all(r.startswith("error: console.test:") for r in results[:first_sent]) and set(results[first_sent:]) == {"sent"}
    assert f"sent {len(got)}," in out
