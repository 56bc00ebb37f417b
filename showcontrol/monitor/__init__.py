"""`showcontrol monitor`: the performers' playback monitor, a pygame window fed only by the broker."""
