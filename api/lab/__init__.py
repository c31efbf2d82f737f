"""Lab peers: real network servers on loopback for tests, benchmarks and the local demo.

Each peer binds port 0 on a loopback address, serves from a daemon thread, and is a context
manager (``with DnsServer(...) as dns: dns.address``). Nothing here sends a packet beyond the
loopback interface.

- ``cutwatch.api.lab.dns``: a DNS server over UDP with a zone and misbehaviour modes
  (nxdomain, servfail, silent, answer twice, bogon answer, reply from another address).
- ``cutwatch.api.lab.tcp``: a TCP listener that holds, resets (RST) or cuts connections,
  ``closed_port()`` (refused), ``SilentPort`` (SYNs dropped: timeouts) and ``DelayProxy``
  (a slow link in front of a real server).
- ``cutwatch.api.lab.http``: an HTTP(S) server with an ok page, a block page, a redirect loop and
  known-size (optionally slow) download objects; ``LabCA`` issues its certificates.
"""
