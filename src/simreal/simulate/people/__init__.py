"""Multi-person synthetic humans with MuJoCo: bodies, poses, scenes, rendering and labels."""

import os

# MuJoCo picks its GL backend when it is first imported: headless EGL unless the user chose otherwise
os.environ.setdefault("MUJOCO_GL", "egl")
