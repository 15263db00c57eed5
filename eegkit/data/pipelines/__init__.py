"""Pipelines: a registered reader's recordings to cached, memory-mapped training arrays (sleep
sequences, event windows)."""
