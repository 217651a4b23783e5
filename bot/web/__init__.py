"""The web process: Twilio's webhooks, advisor commands, the API. It records and enqueues, never answers."""
