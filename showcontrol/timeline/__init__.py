"""Pure musical-time maths: tempo maps, sync streams, and the compiled event timeline."""
