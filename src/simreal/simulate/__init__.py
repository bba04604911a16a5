"""Simulators that write ``simreal-dataset/1`` datasets."""

import os

# MuJoCo (people, hands) picks its GL backend when it is first imported: headless EGL unless the user chose
# otherwise
os.environ.setdefault("MUJOCO_GL", "egl")
