"""Depth hands for SimGAN's hand-pose experiment: an Anny hand model, a pose prior, a Kinect-like sensor
model and the generator behind ``simreal generate hands``."""
