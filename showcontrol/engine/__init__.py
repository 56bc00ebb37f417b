"""The engine: pure, stateful playback logic (transport, audio clock, event cursor). Time is always an argument."""
