#!/usr/bin/env bash
# One command on a fresh Debian 12 / Ubuntu 22.04+ machine: the system packages showcontrol and its tests use,
# then showcontrol itself in a virtual environment (.venv here; plain `pip install` outside a venv is refused
# on Debian 12: externally-managed-environment). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

# What each package is for:
#   python3-venv                 the virtual environment
#   espeak-ng                    the spoken guide calls in performers' click feeds
#   jackd2                       MIDI ports (and pro-audio playback) on machines without /dev/snd/seq
#   mosquitto mosquitto-clients  an MQTT broker for the playback monitors (the demo and the tests use one)
#   liblo-tools                  oscdump/oscsend, to watch the demo's OSC
#   fonts-dejavu-core            the PDF music cue sheet's font (every Latin, Greek and Cyrillic name)
# and for the tests, the real peers they play against:
#   libltc11                     the reference LTC decoder our timecode is checked against
#   openssl                      a throwaway CA for the MQTT-over-TLS test
#   pipewire pipewire-pulse pipewire-jack wireplumber pulseaudio-utils dbus-daemon
#                                a real sound server, killed and hung under a running show
#   poppler-utils                pdftoppm, which turns the PDF cue sheet into the PNG its test looks at
#   eyed3                        an independent ID3 reader that checks the chapters of practice packs' MP3s
#   chromium                     the headless browser the web pages are tested in (driven by playwright, never downloaded)
#   tmux                         a real terminal at 80×24 and 200×50 that `run`'s full screen is tested in (capture-pane)
PACKAGES=(python3-venv espeak-ng jackd2 mosquitto mosquitto-clients liblo-tools fonts-dejavu-core
  libltc11 openssl pipewire pipewire-pulse pipewire-jack wireplumber pulseaudio-utils dbus-daemon poppler-utils eyed3 chromium tmux)

if command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
else
  echo "setup.sh: no apt-get here; install these yourself: ${PACKAGES[*]}" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"
.venv/bin/showcontrol demo cues/demo/show.yaml >/dev/null  # the demo show's synthesised tracks, inside cues/demo/
echo "showcontrol $(.venv/bin/showcontrol --version | cut -d' ' -f2) is set up in $(pwd)/.venv: run  source .venv/bin/activate"
