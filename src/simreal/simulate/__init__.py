"""Simulators that write ``simreal-dataset/1`` datasets."""
