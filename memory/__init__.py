"""Conversation state: the per-advisor store, the AI's checkpointed memory and its trimming."""
