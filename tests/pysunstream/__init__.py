"""Tests of the Home Assistant-free device layer, ``pysunstream``."""
