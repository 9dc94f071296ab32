"""Fake devices for tests, benchmarks and ``scripts/develop``.

Each fake speaks the real protocol over real sockets on 127.0.0.1, serves
captured payloads and has fault knobs settable at runtime. This package sits
outside ``custom_components/sunstream`` so that HACS installs none of it:
tests, ``bench/`` and ``scripts/develop --fakes`` import it from the
checkout, and the WiNet fake's ``websockets`` server is a test requirement,
not a dependency of the integration.
"""
