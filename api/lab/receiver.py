"""A webhook receiver for trying subscriptions locally: ``python -m cutwatch.api.lab.receiver``.

Listens on loopback, verifies each delivery's Standard Webhooks signature with the
subscription's secret, prints every verified message as one JSON line on stdout
(``webhook-id``, type, data) and answers 204; a bad signature gets 400 and a line on stderr.
For the walkthrough in docs/webhooks.md ("Try it locally"); not a production receiver.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def handler(secret: str) -> type[BaseHTTPRequestHandler]:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    webhook = Webhook(secret)

    class Receive(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                message: Any = webhook.verify(body, headers)
            except WebhookVerificationError as exc:
                print(f"receiver: refused a message: {exc}", file=sys.stderr, flush=True)
                self.send_response(400)
            else:
                print(json.dumps({"webhook-id": headers.get("webhook-id"),
                                  "type": message.get("type"), "data": message.get("data")}),
                      flush=True)
                self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the verified messages on stdout are the output."""

    return Receive


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cutwatch.api.lab.receiver",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=9000, help="port on 127.0.0.1 (9000)")
    parser.add_argument("--secret", required=True, help="the subscription's whsec_... secret")
    args = parser.parse_args(argv)
    if not args.secret.startswith("whsec_"):
        parser.error("--secret must be the subscription's whsec_... secret")
    try:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(args.secret))
    except OSError as exc:
        parser.exit(2, f"receiver: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}\n")
    print(f"receiver: listening on http://127.0.0.1:{server.server_port}/", file=sys.stderr,
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
