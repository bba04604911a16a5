"""Task networks, their losses and decoders."""
