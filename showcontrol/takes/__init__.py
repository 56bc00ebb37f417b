"""The take log: every GO of `showcontrol run`, as it happens."""
