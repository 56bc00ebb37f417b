"""The naive baseline for bench/timing.py: how a typical script plays a track and fires cues.

pygame.mixer plays the track; a loop sleeps from one cue to the next with time.sleep and sends with
python-osc, mido and paho-mqtt. Meanwhile a thread samples the mixer's own audio position
(pygame.mixer.music.get_pos) so the bench can judge every send against the audio actually played.

    python bench/naive.py PLAN.json OUT.json   (PLAN lists the cues; written by bench/timing.py)
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import mido
import paho.mqtt.client as paho
import pygame
import rtmidi
from pythonosc.udp_client import SimpleUDPClient


def main(plan_path: str, out_path: str) -> None:
    with open(plan_path) as file:
        plan = json.load(file)
    osc = SimpleUDPClient("127.0.0.1", plan["osc_port"])
    midi = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="naive")  # plain rtmidi: mido's backend misnames JACK ports
    midi.open_port(next(i for i, n in enumerate(midi.get_ports()) if plan["midi_port"] in n))
    mqtt = paho.Client(paho.CallbackAPIVersion.VERSION2)
    mqtt.connect("127.0.0.1", plan["broker_port"])
    mqtt.loop_start()
    pygame.mixer.init(frequency=48000, size=-16, channels=2, buffer=256)
    pygame.mixer.music.load(plan["track"])
    positions: list[tuple[int, int]] = []
    stop = threading.Event()

    def sample_audio_position() -> None:
        while not stop.is_set():
            positions.append((time.monotonic_ns(), pygame.mixer.music.get_pos()))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample_audio_position, daemon=True)
    pygame.mixer.music.play()
    started = time.monotonic_ns()
    sampler.start()
    sends: list[tuple[int, str, int]] = []
    previous = 0.0
    for cue in plan["cues"]:
        time.sleep(max(0.0, cue["time"] - previous))  # sleep from one cue to the next, as scripts do
        previous = cue["time"]
        osc.send_message("/beat", cue["n"])
        sends.append((time.monotonic_ns(), "osc", cue["n"]))
        midi.send_message(mido.Message("note_on", note=36 + cue["n"] % 64, velocity=100).bytes())
        sends.append((time.monotonic_ns(), "midi", cue["n"]))
        mqtt.publish("naive/beat", str(cue["n"]))
        sends.append((time.monotonic_ns(), "mqtt", cue["n"]))
    time.sleep(0.5)
    stop.set()
    sampler.join()
    with open(out_path, "w") as file:
        json.dump({"started_ns": started, "sends": sends, "positions": positions}, file)
    mqtt.loop_stop()
    pygame.mixer.quit()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
