"""Text to tokens: tokenizer training (tokenizer, symbols, metrics), shards, and the loader."""
