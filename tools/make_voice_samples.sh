#!/usr/bin/env bash
# Regenerate the spoken count-in samples in showcontrol/sounds/ (needs espeak-ng and sox).
# Each word is trimmed of leading silence so it starts on the click it is placed with.
set -euo pipefail
out="$(dirname "$0")/../showcontrol/sounds"
words=(one two three four five six seven eight nine ten eleven twelve)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for i in "${!words[@]}"; do
  n=$((i + 1))
  espeak-ng -v en-us -s 190 -a 180 -w "$tmp/$n.wav" "${words[$i]}"
  sox "$tmp/$n.wav" -r 22050 -b 16 "$out/count-$n.flac" silence 1 0.005 1% reverse silence 1 0.02 1% reverse norm -3
done
