"""Standard Webhooks signatures, through the ``standardwebhooks`` library (not hand-rolled).

A delivery is signed with the subscription's secret, and during a rotation window also with
the previous one: ``webhook-signature: v1,<new> v1,<old>``, so either verifies.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the public prefix, not a secret)


def new_secret() -> str:
    """A fresh ``whsec_`` secret: 32 random bytes, base64 as the specification suggests."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def headers(msg_id: str, timestamp: datetime, body: str,
            secrets_in_use: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    signatures = [
        Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body)
        for secret in secrets_in_use
    ]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
