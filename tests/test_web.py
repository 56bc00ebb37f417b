"""The web pages in a real browser (Debian's chromium, headless, driven by playwright) against a real
running show, a real Mosquitto with a WebSockets listener and `showcontrol web`: the performer page shows
the current lyric and bar; GO on the remote starts the song; a wrong PIN is refused; both say when the
engine or the broker is gone, and reconnect. Also the server alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO
from peers import Broker, free_port, wait_for_port, wait_until

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.engine.transport import State
from showcontrol.load.show_file import load_show
from showcontrol.remote.inputs import remote_inputs
from showcontrol.web.server import WebServer, page_config

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
PHONE = {"width": 390, "height": 844}
SHOW = """version: 1
patch: patch.yaml
songs:
  - id: midnight
    title: Midnight Road
    end: 17.1
    tempo: [{bar: 1, bpm: 120}]
    sections: {intro: 1, verse: 2, chorus: 5}
    lyrics:
      - {at: 2.1, performer: Ava, text: "Midnight on an empty road", breath: 1.4}
      - {at: 3.1, performer: Ben, text: "Headlights in the rain"}
      - {at: 4.1, performer: Ava, text: "I keep driving home", breath: 3.4}
      - {at: 5.1, text: "Oh, the city calls"}
    cues:
      - {at: 6.1, name: confetti, mqtt: {to: monitors, topic: fx/confetti, payload: go}}
      - {at: 9.1, name: blackout, mqtt: {to: monitors, topic: fx/blackout, payload: go}}
"""


def test_the_server_serves_the_pages_and_nothing_else() -> None:
    with WebServer(page_config("127.0.0.1", 9001, "show/"), "127.0.0.1", 0) as server:
        base = f"http://127.0.0.1:{server.port}"
        assert b'id="lyric"' in urllib.request.urlopen(f"{base}/performer?performer=Ava").read()
        assert json.loads(urllib.request.urlopen(f"{base}/config.json").read()) == {
            "broker": {"host": "", "port": 9001, "path": "/"},
            "prefix": "show/",
        }
        assert urllib.request.urlopen(f"{base}/vendor/mqtt.min.js").headers["Content-Type"].startswith("text/javascript")
        for path in ("/static/../server.py", "/vendor/", "/static/%2e%2e/server.py", "/etc/passwd", "/server.py"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path)
            assert refused.value.code == 404
        request = urllib.request.Request(f"{base}/remote", data=b"x", method="POST")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(request)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (it drives Debian's chromium)")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


def serve_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, show: str) -> tuple[Broker, subprocess.Popen[str], int]:
    """A real broker with a WebSockets listener, the show's files (its remote's PIN is 471100) and
    `showcontrol web` serving the pages: the broker, the server and its port."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    broker = Broker(tmp_path, websockets_port=free_port())
    broker.start()
    wait_for_port(broker.websockets_port or 0)
    monkeypatch.setenv("SC_TEST_PIN", "471100")
    (tmp_path / "patch.yaml").write_text(f"""version: 1
audio: {{sample_rate: 48000, channels: 2, buffer_frames: 256}}
outputs:
  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker.port}, topic_prefix: show/}}
  lights: {{type: osc, host: 127.0.0.1, port: {free_port()}}}
inputs:
  mqtt: {{output: monitors, token_env: SC_TEST_PIN}}
""")
    (tmp_path / "show.yaml").write_text(show)
    web_port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "showcontrol", "web", "--broker", f"127.0.0.1:{broker.websockets_port}", "--prefix", "show/",
                            "--port", str(web_port), "--host", "127.0.0.1"], cwd=REPO, stderr=subprocess.PIPE, text=True)  # fmt: skip
    return broker, web, web_port


def test_the_performer_page_follows_the_show_and_the_remote_starts_it_with_its_pin(
    browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, web, web_port = serve_show(tmp_path, monkeypatch, SHOW)
    try:
        wait_for_port(web_port)
        options = RunOptions("midnight", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
        with ShowRunner(load_show(tmp_path / "show.yaml"), options) as runner, remote_inputs(runner):
            remote = browser.new_page(viewport=PHONE, device_scale_factor=1)
            errors: list[str] = []
            remote.on("pageerror", lambda error: errors.append(str(error)))
            remote.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            remote.goto(f"http://127.0.0.1:{web_port}/remote")
            remote.fill("#pin", "1234")
            remote.click("#pin-form button")
            remote.wait_for_function("() => document.getElementById('reply').textContent.includes('wrong or missing token')")
            remote.click("#go")
            remote.wait_for_function("() => document.getElementById('reply').textContent.includes('PIN')")
            time.sleep(0.3)
            assert runner.segment.state is State.STOPPED  # a wrong PIN never starts the song
            remote.fill("#pin", "471100")
            remote.click("#pin-form button")
            remote.wait_for_function(
                "() => document.querySelectorAll('#outputs li').length >= 3"
            )  # status came back: audio and both outputs

            performer = browser.new_page(viewport=PHONE, device_scale_factor=1)
            performer.goto(f"http://127.0.0.1:{web_port}/performer?performer=Ava")
            remote.click("#go")
            remote.wait_for_function("() => document.getElementById('reply').textContent.includes('playing midnight from bar 1')")
            wait_until(lambda: runner.segment.state is State.PLAYING)
            shown = performer.wait_for_function(  # the bar as drawn with the lyric, read in the same instant (not a round trip later)
                "() => document.getElementById('lyric').textContent === 'Midnight on an empty road'"
                " && ['bar', 'song', 'section'].map((id) => document.getElementById(id).textContent)",
                timeout=60000,
            ).json_value()
            assert 2 <= int(shown[0]) <= 3 and shown[1:] == ["midnight", "verse"], shown
            performer.wait_for_function("() => document.getElementById('lyric').textContent === 'I keep driving home'", timeout=60000)
            assert "Headlights" not in performer.inner_text("body")  # Ben's line is not on Ava's page
            # the next cue's countdown (confetti's until 6.1, then blackout's: a loaded machine may come here after 6.1)
            performer.wait_for_function("() => /^(confetti|blackout) in /.test(document.getElementById('cue').textContent)")
            performer.wait_for_function("() => document.getElementById('position').className === 'position'")  # between flashes
            remote.wait_for_function("() => document.getElementById('state').textContent === 'playing'")
            remote.wait_for_function("() => document.querySelector('#cues li.next') !== null")
            assert errors == []  # no script error, nothing the page's Content-Security-Policy blocked
            remote.click("#stop")
            wait_until(lambda: runner.segment.state is State.STOPPED)
        performer.wait_for_function("() => document.getElementById('banner').textContent.startsWith('OFFLINE')")  # the engine closed
        broker.kill()  # the venue's broker restarts: the pages say so, and come back by themselves
        performer.wait_for_function("() => document.getElementById('banner').textContent.startsWith('RECONNECTING')")
        broker.start()
        performer.wait_for_function("() => !document.getElementById('banner').textContent.startsWith('RECONNECTING')", timeout=60000)
        remote.wait_for_function("() => !document.getElementById('banner').textContent.startsWith('RECONNECTING')", timeout=60000)
    finally:
        web.terminate()
        web.wait(10)
        broker.kill()
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    gone = [(r["command"], r["result"]) for r in records if r.get("kind") == "command"]
    assert gone[0] == ("invalid", "error: wrong or missing token: this show's remote needs its PIN")  # the wrong PIN's status and GO
    assert [g for g in gone if g[1] == "ok"] == [("go", "ok"), ("stop", "ok")]


SET = (
    SHOW.replace("songs:\n", "setlist:\n  - midnight\n  - {song: harbour, follow: true}\n  - encore\nsongs:\n", 1)
    + """  - id: harbour
    title: Harbour Lights
    end: 17.1
    tempo: [{bar: 1, bpm: 120}]
    sections: {intro: 1, verse: 3}
    lyrics:
      - {at: 3.1, text: "Harbour lights are calling"}
      - {at: 5.1, text: "Bring the boats back home"}
  - id: encore
    title: The Encore
    end: 9.1
    tempo: [{bar: 1, bpm: 100}]
"""
)


def test_the_pages_show_the_set_list_and_the_remote_chooses_what_goes_next(
    browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A three-song set, the encore following the second song by itself: the performer page says which number
    is next (large while stopped, small while playing, marked where it will follow); the remote lists the
    set from the engine's retained state/setlist, the encore marked as following, and NEXT, PREVIOUS and a
    tapped song move the engine's standby song (the `song` command, as the keys do); GO plays it."""
    broker, web, web_port = serve_show(tmp_path, monkeypatch, SET)
    shots = Path(os.environ.get("SHOWCONTROL_SCREENSHOTS", tmp_path))
    setlist = "() => [...document.querySelectorAll('#setlist li')].map((li) => `${li.className}:${li.textContent}`).join('|')"
    try:
        wait_for_port(web_port)
        options = RunOptions(audio_driver="dummy", log_path=tmp_path / "show.jsonl")
        with ShowRunner(load_show(tmp_path / "show.yaml"), options) as runner, remote_inputs(runner):
            performer = browser.new_page(viewport=PHONE, device_scale_factor=1)
            performer.goto(f"http://127.0.0.1:{web_port}/performer")
            performer.wait_for_function("() => document.getElementById('up-next').textContent === 'next: 1. Midnight Road'")
            assert performer.is_visible("#up-next") and not performer.is_visible("#lyric")

            remote = browser.new_page(viewport=PHONE, device_scale_factor=1)
            remote.goto(f"http://127.0.0.1:{web_port}/remote")
            remote.wait_for_function(f"() => ({setlist})() === 'standby:1Midnight Roadstandby|:2Harbour Lights|:3The Encore→ follows'")
            remote.fill("#pin", "471100")
            remote.click("#pin-form button")
            remote.click("#next")
            wait_until(lambda: runner.standby_song == "harbour" and runner.song.id == "harbour")  # stopped: it comes in
            remote.wait_for_function(f"() => ({setlist})().startsWith(':1Midnight Road|standby:2Harbour Lights')")
            performer.wait_for_function("() => document.getElementById('up-next').textContent === 'next: 2. Harbour Lights'")
            remote.click("#setlist li:nth-child(3) button")
            wait_until(lambda: runner.standby_song == "encore")
            remote.click("#previous")
            wait_until(lambda: runner.standby_song == "harbour" and runner.song.id == "harbour")
            remote.wait_for_function("() => document.getElementById('reply').textContent === 'standby 2: harbour'")

            remote.click("#go")
            wait_until(lambda: runner.segment.state is State.PLAYING and runner.song.id == "harbour")
            remote.wait_for_function(
                f"() => ({setlist})() === ':1Midnight Road|playing:2Harbour Lightsplaying|standby:3The Encore→ followsstandby'"
            )
            performer.wait_for_function("() => document.getElementById('next-song').textContent === 'next song: 3. The Encore → follows'")
            performer.wait_for_function(
                "() => document.getElementById('lyric').textContent === 'Harbour lights are calling'", timeout=60000
            )
            assert not performer.is_visible("#up-next")
            performer.wait_for_function("() => document.getElementById('position').className === 'position'")  # between flashes
            performer.screenshot(path=str(shots / "web-performer.png"))
            remote.wait_for_function("() => document.querySelectorAll('#outputs li').length >= 3")
            remote.wait_for_function("() => document.getElementById('state').textContent === 'playing'")
            remote.screenshot(path=str(shots / "web-remote.png"), full_page=True)
    finally:
        web.terminate()
        web.wait(10)
        broker.kill()
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    done = [r["command"] for r in records if r.get("kind") == "command" and r["result"] == "ok" and r["command"] != "status"]
    assert done == ["selectsong", "selectsong", "selectsong", "go"]  # next, a tapped song, previous; GO
