"""The command model: every input (keys, OSC, MIDI, MQTT, the web remote) becomes one typed command and gets a typed reply (pure; applied to a show by `remote/`)."""
