"""A fleet on one broker: Home Assistants bridging into one Mosquitto, replicas serving clients.

See ``bench/README.md`` ("Fleet on one broker") and ``run.py``.
"""
