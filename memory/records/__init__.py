"""Conversations and messages as stored in PostgreSQL, always read and written per advisor."""
