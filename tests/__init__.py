"""Sunstream tests."""
