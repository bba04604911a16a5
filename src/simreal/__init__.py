"""simreal: train neural networks on synthetic images so that they work on real images."""

__version__ = "0.1.0"
