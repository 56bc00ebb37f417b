"""Device profiles: shipped consoles turn short actions into their exact messages; mistakes are clear;
an X32 hears /xremote often enough during a run; an Eos on TCP 3032 framing gets profile cues."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conftest import start_show
from peers import TcpOscServer, UdpReceiver
from pythonosc.osc_message import OscMessage

from showcontrol.codec.msc import msc
from showcontrol.describe import message_data
from showcontrol.errors import ShowFileError
from showcontrol.load.show_file import load_show

PATCH = """version: 1
outputs:
  lights: {type: osc, host: 127.0.0.1, profile: etc-eos}
  ma: {type: osc, host: 127.0.0.1, profile: grandma3}
  qlab: {type: osc, host: 127.0.0.1, profile: qlab5}
  mixer: {type: osc, host: 127.0.0.1, profile: behringer-x32}
  desk: {type: midi, port: desk, profile: msc-lighting}
  keys: {type: midi, port: keys, profile: generic-midi}
  monitors: {type: mqtt, host: 127.0.0.1, profile: mqtt-monitors}
"""


def cue_messages(tmp_path: Path, cues: str, patch: str = PATCH) -> list[tuple[str, dict[str, Any]]]:
    (tmp_path / "patch.yaml").write_text(patch)
    show = tmp_path / "show.yaml"
    show.write_text(f"version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: 5.1\n    tempo: [{{bar: 1, bpm: 120}}]\n    cues:\n{cues}")
    timeline = load_show(show).timelines["s"]
    return [(e.output, message_data(e)) for e in timeline.events if e.kind.value in ("osc", "midi", "mqtt")]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("lights: {cue: 12}", ("lights", {"address": "/eos/cue/1/12/fire", "args": []})),
        ("lights: {cue: 12.5, list: 2}", ("lights", {"address": "/eos/cue/2/12.5/fire", "args": []})),
        ("lights: go", ("lights", {"address": "/eos/key/go_0", "args": []})),
        ("lights: {sub: 3, level: 1}", ("lights", {"address": "/eos/sub/3", "args": [1.0]})),
        ("lights: {macro: 5}", ("lights", {"address": "/eos/macro/5/fire", "args": []})),
        ("ma: {cue: 3, sequence: 7}", ("ma", {"address": "/cmd", "args": ["Go+ Sequence 7 Cue 3"]})),
        ("qlab: go", ("qlab", {"address": "/go", "args": []})),
        ("qlab: {start: 4}", ("qlab", {"address": "/cue/4/start", "args": []})),
        ("qlab: {stop: 4}", ("qlab", {"address": "/cue/4/stop", "args": []})),
        ("mixer: {unmute: 3}", ("mixer", {"address": "/ch/03/mix/on", "args": [1]})),
        ("mixer: {fader: 12, level: 0.75}", ("mixer", {"address": "/ch/12/mix/fader", "args": [0.75]})),
        ("mixer: {send: 3, bus: 5, level: 0.5}", ("mixer", {"address": "/ch/03/mix/05/level", "args": [0.5]})),
        ("desk: {cue: 12.5, list: 1}", ("desk", {"type": "sysex", "channel": 1, "data": list(msc("go", cue="12.5", cue_list="1"))})),
        ("desk: {fire: 5}", ("desk", {"type": "sysex", "channel": 1, "data": list(msc("fire", macro=5))})),
        ("keys: {note: 60, channel: 2}", ("keys", {"type": "note_on", "channel": 2, "data": [60, 100]})),
        ("keys: {patch: 12}", ("keys", {"type": "program_change", "channel": 1, "data": [12]})),
        (
            "monitors: {message: Places please}",
            ("monitors", {"topic": "monitor/message", "payload": "Places please", "qos": 0, "retain": True}),
        ),
        ("monitors: {fx: confetti}", ("monitors", {"topic": "fx/confetti", "payload": "go", "qos": 1, "retain": False})),
    ],
)
def test_shipped_profiles_expand_to_each_consoles_dialect(tmp_path: Path, action: str, expected: tuple[str, dict[str, Any]]) -> None:
    assert cue_messages(tmp_path, f"      - {{at: 1.1, {action}}}\n") == [expected]


def test_several_actions_to_one_console_in_one_cue(tmp_path: Path) -> None:
    messages = cue_messages(tmp_path, "      - {at: 1.1, lights: [go, {cue: 4}]}\n")
    assert [m["address"] for _, m in messages] == ["/eos/key/go_0", "/eos/cue/1/4/fire"]


@pytest.mark.parametrize(
    ("cues", "patch", "report"),
    [
        ("      - {at: 1.1, lights: {cuee: 12}}\n", PATCH, "show.yaml:8:27: lights: name one action of profile 'etc-eos'"),
        ("      - {at: 1.1, mixer: {fader: 3}}\n", PATCH, "show.yaml:8:26: mixer: fader needs level — e.g. mixer: {fader: 1, level: 1}"),
        ("      - {at: 1.1, lightz: go}\n", PATCH, "show.yaml:8:19: unknown key 'lightz' in cue — did you mean 'lights'?"),
        ("      - {at: 1.1, desk: {cue: 12a}}\n", PATCH, "desk: cue must be a number such as 12 or 12.5, got '12a'"),
        (
            "      - {at: 1.1, osc: {to: x, address: /a}}\n",
            "version: 1\noutputs:\n  x: {type: osc, host: h, port: 1, profile: etc-eoss}\n",
            "no device profile 'etc-eoss' — did you mean 'etc-eos'?",
        ),
        (
            "      - {at: 1.1, osc: {to: x, address: /a}}\n",
            "version: 1\noutputs:\n  x: {type: osc, host: h, port: 1, profile: generic-midi}\n",
            "profile 'generic-midi' drives midi devices, but this output is osc — set type: midi",
        ),
    ],
)
def test_profile_mistakes_are_reported_where_they_are(tmp_path: Path, cues: str, patch: str, report: str) -> None:
    with pytest.raises(ShowFileError) as raised:
        cue_messages(tmp_path, cues, patch)
    assert any(report in str(problem) for problem in raised.value.problems), raised.value.problems


def test_a_profile_next_to_the_patch_adds_a_console_without_python(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "acme-desk.yaml").write_text(
        "profile: acme-desk\ntype: osc\nport: 7000\nactions:\n  scene: {address: '/acme/scene/{scene:03d}', args: ['{fade:f}'], defaults: {fade: 2}}\n"
    )
    patch = "version: 1\noutputs:\n  desk: {type: osc, host: 127.0.0.1, profile: acme-desk}\n"
    assert cue_messages(tmp_path, "      - {at: 1.1, desk: {scene: 7}}\n", patch) == [
        ("desk", {"address": "/acme/scene/007", "args": [2.0]})
    ]


def test_an_x32_hears_xremote_at_least_every_10_s_while_the_show_runs(tmp_path: Path) -> None:
    mixer = UdpReceiver()
    (tmp_path / "patch.yaml").write_text(
        f"version: 1\noutputs:\n  mixer: {{type: osc, host: 127.0.0.1, port: {mixer.port}, profile: behringer-x32}}\n"
    )
    show = tmp_path / "show.yaml"
    show.write_text(  # 22 s at 240 bpm: long enough for three keep-alives
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: 23.1\n    tempo: [{bar: 1, bpm: 240}]\n"
        "    cues:\n      - {at: 1.1, mixer: {unmute: 3}}\n      - {at: 22.1, mixer: {mute: 3}}\n"
    )
    try:
        _, err = start_show(show).communicate(timeout=120)
    finally:
        mixer.close()
    received = [OscMessage(d).address for _, d in mixer.datagrams]
    # Sent while the show runs, again and again, beside the cues. How often is the timer's (below): gaps
    # measured here would be the loaded machine's, which can hold any thread for a while.
    assert [a for a in received if a != "/xremote"] == ["/ch/03/mix/on", "/ch/03/mix/on"], err
    assert received.count("/xremote") >= 2 and received[0] == "/xremote", received


def test_keep_alives_are_due_every_period_from_the_last_one_due_however_late_each_is_sent() -> None:
    from showcontrol.io.osc import KeepaliveTimer
    from showcontrol.model.patch import OscOutput
    from showcontrol.model.profile import Keepalive, Profile

    x32 = Profile("behringer-x32", "osc", Path("x32.yaml"), keepalive=Keepalive("/xremote", 9.0))
    timer = KeepaliveTimer(OscOutput(name="mixer", host="127.0.0.1", port=10023, profile=x32))
    s = 10**9
    asked = sorted([k * s // 2 for k in range(80) if k not in (18, 19)] + [s * 97 // 10])  # every 0.5 s; the turn at 9 s held to 9.7 s
    sent = [now / s for now in asked if timer.due(now)]
    assert sent == [0.0, 9.7, 18.0, 27.0, 36.0]  # late once, then on the 9 s grid again (not 9.7, 19, 28...: drifting)
    stalled = KeepaliveTimer(OscOutput(name="mixer", host="127.0.0.1", port=10023, profile=x32))
    assert [stalled.due(now * s) for now in (0, 30, 31, 39, 40)] == [True, True, False, True, False]  # after a stall: at once


def test_an_eos_on_tcp_3032_framing_gets_profile_cues(tmp_path: Path) -> None:
    console = TcpOscServer("slip").start()
    (tmp_path / "patch.yaml").write_text(
        f"version: 1\noutputs:\n  lights: {{type: osc, host: 127.0.0.1, port: {console.port}, transport: tcp, framing: slip, profile: etc-eos}}\n"
    )
    show = tmp_path / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: 3.1\n    tempo: [{bar: 1, bpm: 240}]\n"
        "    cues:\n      - {at: 1.1, lights: {cue: 1}}\n      - {at: 2.1, lights: {cue: 2.5, list: 3}}\n"
    )
    try:
        process = start_show(show)
        _, err = process.communicate(timeout=60)
        time.sleep(0.2)
    finally:
        console.stop()
    assert process.returncode == 0, err
    assert [OscMessage(p).address for _, p in console.packets] == ["/eos/cue/1/1/fire", "/eos/cue/3/2.5/fire"]
