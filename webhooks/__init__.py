"""Inbound endpoints: verify on the raw body, parse to canonical records, store, acknowledge."""

from webhooks.app import create_app

__all__ = ["create_app"]
