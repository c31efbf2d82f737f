"""The webhook part of the service settings, as one frozen object handed to the stages.

Built from ``cutwatch.api.settings.Settings`` at the entry point; the published retry schedule lives
here and nowhere else.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cutwatch.api.settings import Settings

# Delay before each attempt, counted from the previous failure: immediately, 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (about three days of trying in all).
RETRY_SCHEDULE: tuple[float, ...] = (
    0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600,
)
# An endpoint that fails this many attempts in a row (across its deliveries) is disabled.
DISABLE_AFTER_FAILURES = 50
# How long a rotated-out secret keeps signing next to the new one.
ROTATION_WINDOW_SECONDS = 24 * 3600
# A Retry-After longer than this is clamped, so one answer cannot park a delivery forever.
MAX_RETRY_AFTER_SECONDS = 24 * 3600


@dataclass(frozen=True)
class WebhookConfig:
    base_url: str = "http://127.0.0.1:8000"
    # Operator's explicit permission for http:// and private/loopback targets (tests, labs).
    allow_private: bool = False
    retry_schedule: tuple[float, ...] = RETRY_SCHEDULE
    disable_after_failures: int = DISABLE_AFTER_FAILURES
    rotation_window: float = ROTATION_WINDOW_SECONDS
    max_retry_after: float = MAX_RETRY_AFTER_SECONDS
    timeout: float = 15.0
    # A claimed delivery becomes due again after this long if its dispatcher vanished.
    lease: float = 60.0
    poll_interval: float = 1.0
    batch_size: int = 20
    # TLS trust for outgoing deliveries (tests pass a trustme context).
    verify: ssl.SSLContext | bool = True

    def __post_init__(self) -> None:
        if not self.retry_schedule:
            raise ValueError("webhook retry schedule must have at least one attempt")
        if self.lease <= self.timeout:
            raise ValueError("webhook lease must be longer than the request timeout")


def from_settings(settings: Settings) -> WebhookConfig:
    """The ``webhook_*`` fields of the service settings; the published defaults where unset."""
    return WebhookConfig(
        base_url=settings.public_base_url or WebhookConfig.base_url,
        allow_private=settings.webhook_allow_private,
        retry_schedule=settings.webhook_retry_schedule or RETRY_SCHEDULE,
        disable_after_failures=settings.webhook_disable_after_failures or DISABLE_AFTER_FAILURES,
    )
