"""Fake devices for tests, benchmarks and ``scripts/develop``.

Each fake speaks the real protocol over real sockets on 127.0.0.1, serves
captured payloads and has fault knobs settable at runtime. Nothing here is
imported by the integration itself.
"""
