"""Pure byte encoders and decoders for the wire protocols (MIDI sync, MTC, MSC, OSC framing, MQTT PUBLISH): no I/O."""
