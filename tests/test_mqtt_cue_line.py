"""The cue line against a real Mosquitto: QoS-0 cues written by the dispatcher on a connection of their
own arrive whole and in order, and any trouble on it hands the cues to the main connection, losing none."""

from __future__ import annotations

import subprocess
import time
from dataclasses import replace
from typing import Any

from peers import Broker, Subscriber, wait_until
from test_mqtt_output import PREFIX, beat, cue

from showcontrol.io.mqtt import MqttPublisher
from showcontrol.io.output import Health
from showcontrol.model.patch import MqttOutput
from showcontrol.model.position import BarBeat
from showcontrol.model.show import MqttAction
from showcontrol.timeline.events import Event, Kind

CLIENT_ID = "sctest-cue-line"


def opened(broker: Broker, **spec: Any) -> MqttPublisher:
    output = MqttPublisher(replace(MqttOutput(name="monitors", host="127.0.0.1", port=broker.port, topic_prefix=PREFIX), **spec)).open()
    wait_until(lambda: output.status.health is Health.UP)
    return output


def action(topic: str, payload: str, qos: int = 0, retain: bool = False) -> Event:
    return Event(0, BarBeat(1), Kind.MQTT, "monitors", MqttAction("monitors", topic, payload, qos=qos, retain=retain))


def send(output: MqttPublisher, event: Event) -> str:
    return output.send(output.prepare(event), event, time.monotonic_ns())


def cue_payloads(subscriber: Subscriber, topic: str = "cue") -> list[str]:
    return [p for _, t, p in subscriber.lines if t == PREFIX + topic]


def test_cues_on_the_cue_connection_arrive_whole_with_the_state_beside_them(broker: Broker) -> None:
    subscriber = Subscriber(broker.port, PREFIX + "#")
    output = opened(broker)
    # Bodies of 127, 128, 16383 and 16384 bytes: one, two and three bytes of packet length.
    topic = "fx/ü"
    overhead = 2 + len((PREFIX + topic).encode())
    payloads = ["x" * (size - overhead) for size in (127, 128, 16383, 16384)] + ["ünïcode ♪"]
    try:
        wait_until(lambda: output.cue_connection_open)
        results = [send(output, action(topic, payload)) for payload in payloads]
        for n in range(200):
            results.append(send(output, cue(n)))
            output.state(beat(n + 1))
        wait_until(lambda: len(cue_payloads(subscriber)) == 200)
        wait_until(lambda: len(cue_payloads(subscriber, topic)) == len(payloads))
    finally:
        output.close()
        subscriber.close()
    assert results == ["sent"] * (len(payloads) + 200)  # written at once by the caller, not queued
    assert cue_payloads(subscriber, topic) == payloads
    assert cue_payloads(subscriber) == [str(n) for n in range(200)]
    assert len(cue_payloads(subscriber, "state/position")) == 200
    assert output.status.counters.sent == len(payloads) + 200


def test_cues_that_need_the_broker_s_word_or_store_stay_on_the_main_connection(broker: Broker) -> None:
    subscriber = Subscriber(broker.port, PREFIX + "#")
    output = opened(broker)
    try:
        wait_until(lambda: output.cue_connection_open)
        results = [send(output, action("fx", "1", qos=1)), send(output, action("fx", "2", retain=True)), send(output, action("fx", "3"))]
        wait_until(lambda: len(cue_payloads(subscriber, "fx")) == 3)
    finally:
        output.close()
        subscriber.close()
    assert results == ["queued", "queued", "sent"]
    assert sorted(cue_payloads(subscriber, "fx")) == ["1", "2", "3"]


def test_a_cue_connection_the_broker_drops_hands_its_cues_to_the_main_one_and_opens_again(broker: Broker) -> None:
    subscriber = Subscriber(broker.port, PREFIX + "#")
    output = opened(broker, client_id=CLIENT_ID)
    try:
        wait_until(lambda: output.cue_connection_open)
        # The network thread, which watches the line, gets no CPU for a while (as on a loaded machine)...
        assert output._loop is not None
        output._loop.call_soon_threadsafe(time.sleep, 1.0)
        # ...while another client taking the cue line's identifier makes the broker drop the line.
        intruder = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-i", f"{CLIENT_ID}-cues", "-t", "x", "-m", "x"]
        subprocess.run(intruder, check=True, capture_output=True, timeout=60)
        results = []
        deadline = time.monotonic() + 60
        n = 0
        while (n < 20 or output.cue_connections < 2 or not output.cue_connection_open) and time.monotonic() < deadline:
            results.append(send(output, cue(n)))
            n += 1
            time.sleep(0.01)
        after = [send(output, cue(n + k)) for k in range(5)]
        wait_until(lambda: len(cue_payloads(subscriber)) == n + 5)
    finally:
        output.close()
        subscriber.close()
    assert results[0] == "queued", "a cue was written on a line the broker had dropped"
    assert "queued" in results, "the dropped line was not noticed"  # some cues took the main connection...
    assert after == ["sent"] * 5  # ...until a new line opened
    assert cue_payloads(subscriber) == [str(k) for k in range(n + 5)]  # none lost, none twice, in order
    assert output.status.counters.sent == n + 5 and output.status.counters.dropped == 0


def test_a_cue_too_big_to_write_at_once_takes_the_main_connection_whole(broker: Broker) -> None:
    subscriber = Subscriber(broker.port, PREFIX + "#")
    output = opened(broker)
    big = "b" * 16_000_000  # more than the socket will take without waiting
    try:
        wait_until(lambda: output.cue_connection_open)
        result = send(output, action("big", big))
        wait_until(lambda: len(cue_payloads(subscriber, "big")) == 1, timeout=30)
        wait_until(lambda: output.cue_connection_open)  # and a new line opens
        small = send(output, action("big", "small"))
        wait_until(lambda: len(cue_payloads(subscriber, "big")) == 2)
    finally:
        output.close()
        subscriber.close()
    assert result == "queued" and small == "sent"
    assert cue_payloads(subscriber, "big") == [big, "small"]


def test_after_a_broker_restart_cues_go_on_a_new_cue_connection(broker: Broker) -> None:
    output = opened(broker)
    try:
        wait_until(lambda: output.cue_connection_open)
        broker.kill()
        wait_until(lambda: not output.cue_connection_open)
        broker.start()
        subscriber = Subscriber(broker.port, PREFIX + "#")
        wait_until(lambda: output.cue_connection_open)
        result = send(output, cue(1))
        wait_until(lambda: cue_payloads(subscriber) == ["1"])
        subscriber.close()
    finally:
        output.close()
    assert result == "sent" and output.connections == 2


def test_a_patch_can_keep_every_cue_on_one_connection(broker: Broker) -> None:
    subscriber = Subscriber(broker.port, PREFIX + "#")
    output = opened(broker, cue_connection=False)
    try:
        time.sleep(0.5)  # time enough for a line to open, were it to
        result = send(output, cue(1))
        wait_until(lambda: cue_payloads(subscriber) == ["1"])
    finally:
        output.close()
        subscriber.close()
    assert not output.cue_connection_open and result == "queued"
