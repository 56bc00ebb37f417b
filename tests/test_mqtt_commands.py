"""MQTT commands on a real Mosquitto broker: `{prefix}command` in, `{prefix}reply` out, the remote's token
checked by the engine, against a real running show."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from peers import Broker, Subscriber, wait_until
from test_remote_control import write_show

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.engine.transport import State
from showcontrol.io.mqtt_in import command_of
from showcontrol.load.show_file import load_show
from showcontrol.remote.inputs import remote_inputs


def test_a_command_payload_is_checked_before_it_becomes_a_command() -> None:
    assert command_of(b'{"command": "go", "token": "471100", "id": 7}', "471100")[1] == "7"
    assert command_of(b'{"command": "go", "token": "0000"}', "471100")[0].text.startswith("wrong or missing token")  # type: ignore[union-attr]
    assert command_of(b'{"command": "go"}', "471100")[0].text.startswith("wrong or missing token")  # type: ignore[union-attr]
    assert command_of(b"\xff\xfe", None)[0].text.startswith("a command is JSON")  # type: ignore[union-attr]
    assert command_of(b"[1]", None)[0].text.startswith("a command is a JSON object")  # type: ignore[union-attr]
    assert command_of(b"x" * 5000, None)[0].text.startswith("a command is at most")  # type: ignore[union-attr]


def publish(broker: Broker, topic: str, payload: str) -> None:
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic, "-m", payload, "-q", "1"], check=True)


def test_mqtt_commands_drive_the_show_and_a_wrong_token_is_refused(broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SC_TEST_TOKEN", "471100")
    patch = f"""outputs:
  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker.port}, topic_prefix: show/}}
inputs:
  mqtt: {{output: monitors, token_env: SC_TEST_TOKEN}}
"""
    options = RunOptions("song1", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    replies = Subscriber(broker.port, "show/reply")
    try:
        with ShowRunner(load_show(write_show(tmp_path, patch)), options) as runner, remote_inputs(runner) as controller:
            publish(broker, "show/command", json.dumps({"command": "go", "token": "1234", "id": "a"}))
            wait_until(lambda: len(replies.lines) >= 1)
            time.sleep(0.3)
            assert runner.segment.state is State.STOPPED
            publish(broker, "show/command", json.dumps({"command": "go", "token": "471100", "id": "b"}))
            wait_until(lambda: runner.segment.state is State.PLAYING)
            publish(broker, "show/command", json.dumps({"command": "song", "args": ["song2"], "token": "471100", "id": "c"}))
            wait_until(lambda: len(replies.lines) >= 3)
            answers = [json.loads(payload) for _, _, payload in replies.lines]
            assert answers[0] == {"ok": False, "error": "wrong or missing token: this show's remote needs its PIN", "id": "a"}
            assert answers[1] == {"ok": True, "text": "playing song1 from bar 1", "id": "b"}
            assert answers[2]["id"] == "c" and answers[2]["error"].startswith("this run plays song1 only (--song)")
            publish(broker, "show/command", "go!")
            wait_until(lambda: len(replies.lines) >= 4)
            assert json.loads(replies.lines[3][2])["error"].startswith("a command is JSON")
            [counts] = controller.inputs.values()  # the wrong token and the song not in the run refused; not JSON malformed
            assert (counts.taken, counts.refused, counts.malformed) == (1, 2, 1) and counts.text().endswith("dropped 1 (1 malformed)")
    finally:
        replies.close()
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    assert [(r["source"], r["result"][:5]) for r in records if r.get("kind") == "command"] == [
        ("mqtt", "error"),
        ("mqtt", "ok"),
        ("mqtt", "error"),
        ("mqtt", "error"),
    ]
