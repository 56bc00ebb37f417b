"""The engine: pure, stateful playback logic (transport, scheduler, start plans). Time is always an argument."""
