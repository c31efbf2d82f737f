"""Versioned SQL migrations (``NNNN_name.sql``), applied in lexical order by api.migrate."""
