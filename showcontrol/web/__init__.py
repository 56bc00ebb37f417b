"""The web surfaces: a performer page and an operator remote, static files fed by the MQTT broker."""
