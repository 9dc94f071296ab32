"""Sunstream's device layer: data model, sources and simulator.

Nothing in this package imports Home Assistant. Parsing and modelling are
pure functions over values; the few objects that do I/O take their
transport from the caller. That keeps the package ready to ship on PyPI as
a library and lets the tests drive it without an event loop where possible.
"""
