"""The dashboard the collector serves at ``/``: server-rendered pages over the read API.

Every script, style and font comes from ``static/`` (the charting library and Swagger UI are
vendored with their licences), so a page never makes a request to another host.
"""
