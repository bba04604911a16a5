"""The ``simreal-dataset/1`` format: manifest, reader, writer, importers."""

from simreal.data.format import FORMAT, ImageSpec, LabelField
from simreal.data.reader import SimrealDataset, read_manifest
from simreal.data.writer import DatasetWriter

__all__ = ["FORMAT", "DatasetWriter", "ImageSpec", "LabelField", "SimrealDataset", "read_manifest"]
