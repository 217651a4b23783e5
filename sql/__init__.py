"""Holds the ordered SQL migrations (`NNNN_*.sql`) and the example advisor seed (`seed.sql`)."""
