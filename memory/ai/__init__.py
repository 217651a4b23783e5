"""The AI's memory: the LangGraph checkpointer, the thread id of a conversation, and its trimming."""
