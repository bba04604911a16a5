"""Offscreen rendering of a scene with MuJoCo: RGB and metric depth from one pass, geom ids from a second.

The GL backend comes from ``MUJOCO_GL`` (``egl`` by default here; ``osmesa`` with Debian's libosmesa6 is
the fallback). A :class:`SceneRenderer` is bound to one model and keeps its GL context, so a worker
renders every scene of a :class:`~simreal.simulate.people.scene.SceneBuilder` without re-creating it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import mujoco
import numpy as np

from simreal.utils.errors import SimrealError


class SceneRenderer:
    def __init__(self, model: mujoco.MjModel, width: int, height: int, camera: str = "cam"):
        try:
            self._gl = mujoco.GLContext(width, height)
            self._gl.make_current()
        except Exception as e:  # no EGL/OSMesa on this machine
            raise SimrealError(f"no offscreen OpenGL for MuJoCo (MUJOCO_GL={os.environ.get('MUJOCO_GL')}): {e}; "
                               "install libegl1 and libgl1-mesa-dri, or libosmesa6 with MUJOCO_GL=osmesa") from e
        self.model, self.width, self.height = model, width, height
        self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_50)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._con)
        self._con.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        self._scene = mujoco.MjvScene(model, maxgeom=40 * model.ngeom + 100)
        self._opt, self._pert = mujoco.MjvOption(), mujoco.MjvPerturb()
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._cam.fixedcamid = model.camera(camera).id
        self._rect = mujoco.MjrRect(0, 0, width, height)

    def render(self, data: mujoco.MjData, width: int | None = None, height: int | None = None,
               meshes: Sequence[int] = (), textures: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 metres along the optical axis (inf where empty)
        and ``geom`` (H, W) int32 geom id (−1 where empty); any size up to the one the renderer was made for.
        ``meshes``, ``textures``: ids of those whose data changed since they were last drawn (re-uploaded)."""
        w, h = self._draw(data, width, height, meshes, textures)
        rgb = np.empty((h, w, 3), np.uint8)
        zbuf = np.empty((h, w), np.float32)
        mujoco.mjr_readPixels(rgb, zbuf, self._rect, self._con)
        depth = self._metric_depth(zbuf)
        flags = self._scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = 1
        try:
            seg = np.empty((h, w, 3), np.uint8)
            mujoco.mjr_render(self._rect, self._scene, self._con)
            mujoco.mjr_readPixels(seg, None, self._rect, self._con)
        finally:
            flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = 0
        seg32 = seg.astype(np.int32)
        segid = seg32[..., 0] | (seg32[..., 1] << 8) | (seg32[..., 2] << 16)
        lookup = np.full(self._scene.ngeom + 2, -1, np.int32)
        for g in self._scene.geoms[: self._scene.ngeom]:
            if g.segid >= 0 and g.objtype == mujoco.mjtObj.mjOBJ_GEOM:
                lookup[g.segid + 1] = g.objid
        geom = lookup[np.minimum(segid, len(lookup) - 1)]
        depth[geom < 0] = np.inf
        return rgb[::-1].copy(), depth[::-1].copy(), geom[::-1].copy()

    def render_depth(self, data: mujoco.MjData, width: int | None = None, height: int | None = None,
                     meshes: Sequence[int] = ()) -> np.ndarray:
        """Only :meth:`render`'s ``depth`` (one pass, no colour read back): metres, inf where empty."""
        w, h = self._draw(data, width, height, meshes, ())
        zbuf = np.empty((h, w), np.float32)
        mujoco.mjr_readPixels(None, zbuf, self._rect, self._con)
        depth = self._metric_depth(zbuf)
        depth[zbuf <= 0] = np.inf  # never drawn: the cleared reversed-Z buffer
        return depth[::-1].copy()

    def _draw(self, data: mujoco.MjData, width: int | None, height: int | None, meshes: Sequence[int],
              textures: Sequence[int]) -> tuple[int, int]:
        """Upload what changed and draw the scene into the offscreen buffer; returns the size drawn."""
        w, h = width or self.width, height or self.height
        if w > self.width or h > self.height:
            raise SimrealError(f"cannot render {w}×{h}: this renderer's buffer is {self.width}×{self.height}")
        self._rect = mujoco.MjrRect(0, 0, w, h)
        self._gl.make_current()
        for mesh in meshes:
            mujoco.mjr_uploadMesh(self.model, self._con, mesh)
        for texture in textures:
            mujoco.mjr_uploadTexture(self.model, self._con, texture)
        mujoco.mjv_updateScene(self.model, data, self._opt, self._pert, self._cam, mujoco.mjtCatBit.mjCAT_ALL,
                               self._scene)
        mujoco.mjr_render(self._rect, self._scene, self._con)
        return w, h

    def render_scene(self, scene, width: int | None = None, height: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`render` a :class:`~simreal.simulate.people.scene.Scene`, uploading what it changed."""
        return self.render(scene.data, width, height, meshes=scene.meshes, textures=scene.textures)

    def _metric_depth(self, zbuf: np.ndarray) -> np.ndarray:
        """Undo MuJoCo's reversed-Z perspective depth (as ``mujoco.Renderer`` does)."""
        extent = self.model.stat.extent
        znear = np.float32(self.model.vis.map.znear * extent)
        zfar = np.float32(self.model.vis.map.zfar * extent)
        c = -(zfar + znear) / (zfar - znear)
        d = -(np.float32(2) * zfar * znear) / (zfar - znear)
        c, d = np.float32(-0.5) * c - np.float32(0.5), np.float32(-0.5) * d
        return (d / (zbuf.astype(np.float64) + c)).astype(np.float32)

    def close(self) -> None:
        if self._con is not None:
            self._gl.make_current()
            self._con.free()
            self._con = None
            self._gl.free()

    def __enter__(self) -> SceneRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
