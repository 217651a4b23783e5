"""Talking to Twilio: webhook signatures, inbound forms, the REST sender, media in and out."""
