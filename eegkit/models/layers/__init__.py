"""Reusable neural-network layers shared by eegkit models."""
