"""Cutwatch: detect regional Internet shutdowns from the inside.

This package holds what every deployable shares: the command line, the wire format a probe
uploads, and the failure vocabulary. The stages themselves live in ``probes``, ``api`` and
``detectors``.
"""

__version__ = "0.1.0"
