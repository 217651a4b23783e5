"""What the business sells: documents split into passages, and their search."""
