"""arxiv2lm: arXiv LaTeX sources to a trained scientific language model, as a DVC pipeline."""
