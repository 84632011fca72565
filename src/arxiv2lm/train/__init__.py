"""Pretraining: the model, DeepSpeed engine, checkpoints and resume, evaluation, export."""
