"""The AI agent: LangGraph graph, its tools and context, the prompt text, the model, speech in and out."""
