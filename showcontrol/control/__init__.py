"""Remote and local control: every input (keys, OSC, MIDI, MQTT, the web remote) becomes one typed command."""
