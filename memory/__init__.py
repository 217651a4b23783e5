"""Conversation state: the records of every conversation and message, and the AI's own memory."""
