"""From a recording to a tempo map: onsets, beats, downbeats and the fitting of a map to them (pure numpy, no I/O)."""
