"""What every Modbus TCP device Sunstream reads shares, whoever made it.

* :mod:`.registers` — one register row (address, table, type, scale, sign,
  canonical metric, cadence, device part);
* :mod:`.decode` — words ↔ values, in the device's word order;
* :mod:`.planner` — rows → the fewest block reads a device allows;
* :mod:`.poller` — what a source reads when (identity per connection,
  slow rows every few polls, real-time rows every poll) and which
  registers the device lacks;
* :mod:`.client` — one persistent pymodbus session (spacing, failure
  classification, reconnects spaced by :mod:`..backoff`);
* :mod:`.errors` — why a device did not answer, as reasons to translate.

The device packages (``alphaess/``, ``sungrow/``) hold the maps, quirks and
meanings; this package holds no vendor fact.
"""
