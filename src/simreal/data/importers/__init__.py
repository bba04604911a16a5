"""Importers from the formats users have into ``simreal-dataset/1``."""
