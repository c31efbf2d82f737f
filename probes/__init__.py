"""Probe agent run by volunteers: checks -> spool -> uploader."""
