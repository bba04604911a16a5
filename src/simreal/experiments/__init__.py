"""One-command studies and the glue between stages (the only layer besides the CLI that spans stages)."""
