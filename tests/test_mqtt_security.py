"""MQTT the way a venue should run it: TLS with a CA the patch names, a username, and a password that
never sits in a file. A real Mosquitto with a TLS-only listener and no anonymous access."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_show_to_the_end
from peers import Broker, Subscriber, make_tls_files

PREFIX = "showcontrol/secure/"
USER, PASSWORD = "playback", "s3cret-for-tests"


@pytest.fixture
def secure_broker(tmp_path: Path):
    if shutil.which("mosquitto") is None or shutil.which("openssl") is None:
        pytest.skip("mosquitto or openssl is not installed")
    broker = Broker(tmp_path, tls=make_tls_files(tmp_path), users={USER: PASSWORD})
    broker.start()
    yield broker
    broker.kill()


def write_show(folder: Path, broker: Broker) -> Path:
    assert broker.tls is not None
    (folder / "patch.yaml").write_text(f"""version: 1
audio: {{sample_rate: 48000, channels: 2, buffer_frames: 256, routes: {{click: [1, 2]}}}}
outputs:
  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker.port}, username: {USER}, password_env: SC_TEST_MQTT_PASSWORD,
             tls: {{ca_file: {broker.tls.ca.name}}}, topic_prefix: {PREFIX}}}
""")
    cues = "\n".join(
        f"      - {{at: {bar}.1, mqtt: {{to: monitors, topic: bar, payload: '{bar}', qos: 1}}}}\n"
        f"      - {{at: {bar}.3, mqtt: {{to: monitors, topic: beat, payload: '{bar}.3'}}}}"  # QoS 0: the cue connection
        for bar in range(1, 5)
    )
    show = folder / "show.yaml"
    show.write_text(
        f"version: 1\npatch: patch.yaml\nsongs:\n  - id: secure\n    end: 5.1\n    tempo: [{{bar: 1, bpm: 240}}]\n    cues:\n{cues}\n"
    )
    return show


def run(show: Path, password: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SC_TEST_MQTT_PASSWORD"}
    if password is not None:
        env["SC_TEST_MQTT_PASSWORD"] = password
    return run_show_to_the_end(show, env=env)


def test_cues_and_presence_arrive_over_tls_with_credentials(tmp_path: Path, secure_broker: Broker) -> None:
    show = write_show(tmp_path, secure_broker)
    subscriber = Subscriber(secure_broker.port, PREFIX + "#", secure_broker.client_args)
    try:
        result = run(show, PASSWORD)
    finally:
        subscriber.close()
    assert result.returncode == 0, result.stderr
    assert [p for _, t, p in subscriber.lines if t == PREFIX + "bar"] == ["1", "2", "3", "4"]
    assert [p for _, t, p in subscriber.lines if t == PREFIX + "beat"] == ["1.3", "2.3", "3.3", "4.3"]
    fired = [json.loads(line) for line in show.with_suffix(".jsonl").read_text().splitlines() if '"kind": "mqtt"' in line]
    results = [(record["message"]["payload"], record["result"]) for record in fired if record["message"]["qos"] == 0]
    assert ("4.3", "sent") in results, results  # written on the cue connection, over TLS, logged in
    presence = [p for _, t, p in subscriber.lines if t == PREFIX + "status"]
    assert presence[0] == "online" and presence[-1] == "offline"


def test_a_wrong_password_is_reported_and_the_show_still_runs(tmp_path: Path, secure_broker: Broker) -> None:
    show = write_show(tmp_path, secure_broker)
    result = run(show, "not-the-password")
    assert result.returncode == 0, result.stderr
    assert "monitors: down" in result.stdout and "Traceback" not in result.stderr
    assert "not authori" in (result.stdout + result.stderr).lower()  # Mosquitto's "Not authorized", as the operator sees it
    records = [json.loads(line) for line in show.with_suffix(".jsonl").read_text().splitlines()]
    handed, final = [r for r in records if r.get("kind") == "mqtt"], [r for r in records if r.get("kind") == "outcome"]
    assert len(handed) == 8 and {r["result"] for r in handed} == {"queued (down)"}  # every cue is still accounted for in the show log
    assert [r["song_frame"] for r in final] == [r["song_frame"] for r in handed]  # and each gets its final result, by name
    assert {r["result"] for r in final} == {"dropped: undelivered at shutdown"}


def test_a_missing_password_variable_is_a_clear_error_before_anything_plays(tmp_path: Path, secure_broker: Broker) -> None:
    result = run(write_show(tmp_path, secure_broker), None)
    assert result.returncode == 1
    assert "SC_TEST_MQTT_PASSWORD" in result.stderr and "Traceback" not in result.stderr
