"""Interpretation: plots and attention inspection."""
