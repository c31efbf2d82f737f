"""Webhooks: subscriptions, the delivery outbox, the signing dispatcher and the event feeds."""
