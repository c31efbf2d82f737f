"""Collector service: ingest, storage, read API, subscriptions, webhooks, dashboard."""
