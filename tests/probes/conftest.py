"""Probe test fixtures: the loopback lab (see probe_lab.py)."""

from probe_lab import lab

__all__ = ["lab"]
