"""Peer comparisons (issue 7): the app's Socket.IO endpoint vs a Node socket.io server, and the
MQTT bridge vs Home Assistant's ``mqtt_statestream``."""
