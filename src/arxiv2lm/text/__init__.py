"""Text normalization and per-document quality signals (the `normalize` stage's core)."""
