"""Small helpers shared across eegkit (no heavy imports here)."""
