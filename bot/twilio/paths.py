"""Owns the public URL paths that Twilio is configured with: changing one breaks every number."""

WEBHOOK_PATH = "/webhooks/twilio"
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
