"""Soak and chaos run of the whole Sunstream stack (issue 7), bounded in time, loopback only.

A real Home Assistant process (a simulated system, a fake WiNet gateway and a
fake AlphaESS unit configured as entries), the app's server as its own process
behind a TCP relay to Home Assistant, Mosquitto, and thousands of dashboard
WebSocket clients; random faults from every fake's knobs, Home Assistant link
drops, broker restarts and app restarts. ``python -m bench.soak --help`` or
``scripts/soak``; ``docs/reliability.md`` explains the figures.

Not part of any test suite: nothing here is named ``test_*``.
"""
