"""Metrics as pure functions, and their plots."""
