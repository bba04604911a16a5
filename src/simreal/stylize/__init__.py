"""Domain stylization (the synthetic-humans paper's D_Style): synthetic people restyled after real ones."""
