"""The evaluation suite: scenario conversations through the real server, scored by deterministic checks."""
