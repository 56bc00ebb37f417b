"""Audio: pure synthesis and mixing (click, LTC, routing) and the edges that read files and drive the device."""
