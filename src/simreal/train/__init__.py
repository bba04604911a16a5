"""Task training loops."""
