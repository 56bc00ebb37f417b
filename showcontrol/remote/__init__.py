"""The commands applied to a running show: the controller every input and the keys go through, and the input
servers a run starts. Above `app` (it drives a ShowRunner); the pure command model below it is `control/`."""
