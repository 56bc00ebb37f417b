"""showcontrol: a show-control cue engine locked to the audio clock of the artist track."""

__version__ = "0.1.0"
