"""Pure musical-time maths: tempo maps, timecode, and the compiled event timeline."""
