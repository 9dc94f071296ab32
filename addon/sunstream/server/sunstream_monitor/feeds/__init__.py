"""Feeds: where the hub's systems, states and events come from."""

from __future__ import annotations
