"""Multi-person synthetic humans with MuJoCo: bodies, poses, scenes, rendering and labels."""
