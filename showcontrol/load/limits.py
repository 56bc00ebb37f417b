"""The sizes a show, patch or profile may have: each bounds the time and memory a load (and a run) can take.

docs/show-file.md lists them; every error that one of them causes names it.
"""

from __future__ import annotations

MAX_FILE_BYTES = 16 * 1024 * 1024  # a show of 100,000 cues is about 8 MB
MAX_ITEMS = (
    1_000_000  # lines, commas and brackets of one file: bounds the values a parse makes before it makes them (100,000 cues: about 700,000)
)
MAX_VALUES = 2_000_000  # values of one file once its aliases are expanded (an alias bomb's billions stop here)
MAX_DEPTH = 50  # nested lists and mappings
MAX_TEXT = 1000  # characters of any text: names, titles, lyrics, addresses, topics (monitors show them)
MAX_KEY = 100  # characters of a key: section, performer feed and output names are keys, and monitors show them
MAX_SONG_ID = 64  # characters of a song id, part of the show log's file name
MAX_PAYLOAD_BYTES = 65536  # an MQTT cue's payload
MAX_OSC_BYTES = 65507  # an OSC message: what one UDP datagram carries over IPv4
MAX_SONGS = 200
MAX_SETLIST_ENTRIES = 1000  # a set may repeat songs; a thousand entries is days of shows
MAX_GAP_SECONDS = 60  # a follow's pause: longer is an interval, where the operator presses GO
MAX_GAP_BARS = 32
MAX_EVENTS = 3_000_000  # beats, clicks, cues and lyrics of a whole show's timelines, estimated before compiling
MAX_CUES = 100_000  # per song
MAX_LYRICS = 10_000  # per song
MAX_SONG_SECONDS = 3600  # from the start of the audio to a song's end (an hour of stereo at 48 kHz is 1.4 GB in memory)
MAX_DEMO_SECONDS = 300  # a synthesised demo track (its synthesis holds about 1.5 KB per millisecond)
