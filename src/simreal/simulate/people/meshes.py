"""Anny body meshes inside the scene's MuJoCo model: one mesh geom per body segment and person slot.

Every Anny body has the same triangles, so each slot's meshes are compiled once (from the template) and
each scene rewrites their vertices and normals in place; :class:`~simreal.simulate.render.SceneRenderer`
re-uploads the meshes a scene lists in ``Scene.meshes``. The mesh geoms hang from the world body with an
identity pose, so their vertices are world coordinates (MuJoCo re-centres a mesh at compile time, keeping
the vertex order: the geom's pose is reset here). They never collide: MuJoCo's placement and
self-penetration checks use the slot's capsule body, fitted to the Anny body and hidden (geom group 3).
Unused slots are moved behind the camera, as the capsule bodies are. Each slot has one texture, its
person's clothes, hair, skin and eyes (:mod:`simreal.simulate.people.clothes`), rewritten per scene and
re-uploaded from ``Scene.textures``; the meshes carry Anny's UVs.

A person in a skirt gets one more mesh, ``p{k}_skirt``: a tube of ``SKIRT_RINGS`` rings built around the
posed body from the waist to the hem (:func:`skirt_rings`), textured from the texels the clothes painter
keeps for it (``clothes.SKIRT_PATCH``); it belongs to the pelvis in the labels' occlusion rules.
"""

from __future__ import annotations

import mujoco
import numpy as np
import scipy.sparse

from simreal.simulate.people.anny import AnnyModel
from simreal.simulate.people.clothes import SKIRT_PATCH, TEXTURE

HIDDEN_GROUP = 3  # not drawn by MuJoCo's default visual options (groups 0-2)
SKIRT_RINGS, SKIRT_ANGLES = 10, 40
PARK_OFFSET = (-60.0, 0.0, -50.0)  # unused meshes wait here: behind and below the camera


def _skirt_mesh() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A skirt's triangles (outward, counter-clockwise), texture coordinates over ``SKIRT_PATCH`` and a
    placeholder shape (a cone, no two vertices alike: MuJoCo merges repeated ones), for
    ``SKIRT_RINGS × (SKIRT_ANGLES + 1)`` vertices (the seam's column twice, once per edge of the patch)."""
    r, a = SKIRT_RINGS, SKIRT_ANGLES + 1
    idx = np.arange(r * a).reshape(r, a)
    quad = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], axis=-1).reshape(-1, 4)
    faces = np.concatenate([quad[:, [0, 1, 2]], quad[:, [0, 2, 3]]]).astype(np.int32)
    rows, cols = SKIRT_PATCH
    u = (cols.start + 0.5 + (cols.stop - cols.start - 1) * np.linspace(0, 1, a)) / TEXTURE
    v = 1 - (rows.start + 0.5 + (rows.stop - rows.start - 1) * np.linspace(0, 1, r)) / TEXTURE
    uv = np.stack(np.broadcast_arrays(u[None, :], v[:, None]), axis=-1).reshape(-1, 2)
    angle = 2 * np.pi * np.linspace(0, 1, a) + 0.01 * np.arange(a)
    radius = 0.2 + 0.01 * np.arange(r)[:, None] + 0.001 * np.arange(a)[None, :]
    cone = np.stack([radius * np.cos(angle), radius * np.sin(angle),
                     np.broadcast_to(-0.05 * np.arange(r)[:, None], (r, a))], axis=-1)
    return faces, uv, cone.reshape(-1, 3)


SKIRT_FACES, SKIRT_UV, _SKIRT_CONE = _skirt_mesh()


def skirt_rings(points: np.ndarray, top: float, hem: float, margin: float = 0.012) -> np.ndarray:
    """Vertices ``(SKIRT_RINGS, SKIRT_ANGLES + 1, 3)`` of a skirt around ``points`` (the body from the waist
    down, in the pelvis frame: x forward, y left, z up), from height ``top`` down to ``hem``. Each ring
    encloses the body's points at its height: in each of ``SKIRT_ANGLES`` directions from their centre, the
    farthest point plus ``margin`` (directions without points interpolated around the ring); a ring is never
    narrower than the one above, so the skirt falls and flares. Below the last height with body points the
    skirt ends there: its remaining rings coincide. The top ring hugs the waist (a 1.5 cm band)."""
    out = np.empty((SKIRT_RINGS, SKIRT_ANGLES + 1, 3))
    heights = np.linspace(top, hem, SKIRT_RINGS)
    band = abs(heights[1] - heights[0]) / 2 + 0.01
    turn = 2 * np.pi * np.arange(SKIRT_ANGLES) / SKIRT_ANGLES
    above = None
    for r, z in enumerate(heights):
        xy = points[np.abs(points[:, 2] - z) < (0.015 if r == 0 else band), :2]
        if len(xy) < 3 and r > 0:
            out[r:] = out[r - 1]
            break
        centre = (xy.min(axis=0) + xy.max(axis=0)) / 2 if len(xy) else np.zeros(2)
        d = xy - centre
        bins = np.round(np.arctan2(d[:, 1], d[:, 0]) / (2 * np.pi / SKIRT_ANGLES)).astype(int) % SKIRT_ANGLES
        radius = np.full(SKIRT_ANGLES, np.nan)
        np.fmax.at(radius, bins, np.hypot(d[:, 0], d[:, 1]))
        have = np.flatnonzero(~np.isnan(radius))
        radius = np.interp(np.arange(SKIRT_ANGLES), have, radius[have], period=SKIRT_ANGLES) if len(have) else \
            np.full(SKIRT_ANGLES, 0.15)
        radius = radius + margin if above is None else np.maximum(radius + margin, above)
        above = radius
        out[r, :SKIRT_ANGLES, :2] = centre + radius[:, None] * np.stack([np.cos(turn), np.sin(turn)], axis=1)
        out[r, :, 2] = z
        out[r, SKIRT_ANGLES] = out[r, 0]
    return out


class MeshSlots:
    def __init__(self, body: AnnyModel, n_slots: int):
        self.body, self.n = body, n_slots
        faces = body.faces
        self.parts = {}  # segment → (its vertices, its triangles, its UVs, its triangles' UVs), in its own numbering
        for name, tri in body.segments.items():
            verts, uvs = np.unique(faces[tri]), np.unique(body.face_uv[tri])
            self.parts[name] = (verts, np.searchsorted(verts, faces[tri]).astype(np.int32), uvs,
                                np.searchsorted(uvs, body.face_uv[tri]).astype(np.int32))
        self._incidence = _incidence(faces, len(body.template))
        self._skirt_incidence = _incidence(SKIRT_FACES, len(SKIRT_UV))

    def add_to(self, spec: mujoco.MjSpec) -> None:
        """Add every slot's texture ``p{k}_texture``, material ``p{k}_body``, meshes and geoms
        (``p{k}_mesh_{segment}``)."""
        uv = self.body.uv
        for k in range(self.n):
            spec.add_texture(name=f"p{k}_texture", type=mujoco.mjtTexture.mjTEXTURE_2D, width=TEXTURE,
                             height=TEXTURE, nchannel=3, builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT, rgb1=[0.8] * 3)
            material = spec.add_material(name=f"p{k}_body", specular=0.15)
            material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = f"p{k}_texture"
            for name, (verts, tri, uvs, tri_uv) in self.parts.items():
                mesh = spec.add_mesh(name=f"p{k}_{name}", uservert=self.body.template[verts].ravel().tolist(),
                                     userface=tri.ravel().tolist(), usertexcoord=uv[uvs].ravel().tolist(),
                                     userfacetexcoord=tri_uv.ravel().tolist())
                mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL
                spec.worldbody.add_geom(name=f"p{k}_mesh_{name}", type=mujoco.mjtGeom.mjGEOM_MESH,
                                        meshname=f"p{k}_{name}", material=f"p{k}_body", contype=0, conaffinity=0,
                                        mass=0)
            mesh = spec.add_mesh(name=f"p{k}_skirt", uservert=_SKIRT_CONE.ravel().tolist(),
                                 userface=SKIRT_FACES.ravel().tolist(), usertexcoord=SKIRT_UV.ravel().tolist(),
                                 userfacetexcoord=SKIRT_FACES.ravel().tolist())
            mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL
            spec.worldbody.add_geom(name=f"p{k}_mesh_skirt", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=f"p{k}_skirt",
                                    material=f"p{k}_body", contype=0, conaffinity=0, mass=0)

    def bind(self, model: mujoco.MjModel) -> None:
        """Look up the compiled meshes and geoms; give the geoms an identity pose (world-coordinate vertices)."""
        self.model = model
        self.mesh_ids = [{name: model.mesh(f"p{k}_{name}").id for name in self.parts} for k in range(self.n)]
        self.geom_ids = [{name: model.geom(f"p{k}_mesh_{name}").id for name in self.parts} for k in range(self.n)]
        self.texture_ids = [model.texture(f"p{k}_texture").id for k in range(self.n)]
        self.skirt_ids = [(model.mesh(f"p{k}_skirt").id, model.geom(f"p{k}_mesh_skirt").id) for k in range(self.n)]
        if any(model.mesh_vertnum[m] != len(SKIRT_UV) for m, _ in self.skirt_ids):
            raise RuntimeError("MuJoCo changed the skirt mesh's vertices")
        for k in range(self.n):
            ids = [*self.geom_ids[k].values(), self.skirt_ids[k][1]]
            model.geom_quat[ids] = (1.0, 0.0, 0.0, 0.0)
            self.park(k)

    def segment_bodies(self, k: int) -> dict[int, int]:
        """Mesh geom id → the capsule body of its segment (the skirt's: the pelvis)."""
        return {g: self.model.body(f"p{k}_{name}").id for name, g in self.geom_ids[k].items()} | {
            self.skirt_ids[k][1]: self.model.body(f"p{k}_pelvis").id}

    def write(self, k: int, vertices: np.ndarray) -> list[int]:
        """Put world-coordinate ``vertices`` (V, 3) into slot ``k``; returns the meshes to re-upload."""
        m, faces = self.model, self.body.faces
        v = vertices.astype(np.float64)
        normals = _unit(_normal_sums(self._incidence, v, faces))
        for name, (verts, *_) in self.parts.items():
            mesh = self.mesh_ids[k][name]
            a, n = m.mesh_vertadr[mesh], m.mesh_vertnum[mesh]
            m.mesh_vert[a:a + n] = v[verts]
            a = m.mesh_normaladr[mesh]
            m.mesh_normal[a:a + n] = normals[verts]
        m.geom_pos[list(self.geom_ids[k].values())] = 0.0
        return list(self.mesh_ids[k].values())

    def write_skirt(self, k: int, vertices: np.ndarray | None) -> list[int]:
        """Put a skirt's world-coordinate ``vertices`` (:func:`skirt_rings`' shape) into slot ``k``, or park
        the slot's skirt (None); returns the meshes to re-upload."""
        mesh, geom = self.skirt_ids[k]
        m = self.model
        if vertices is None:
            m.geom_pos[geom] = PARK_OFFSET
            return []
        v = vertices.reshape(-1, 3).astype(np.float64)
        normals = _normal_sums(self._skirt_incidence, v, SKIRT_FACES).reshape(SKIRT_RINGS, SKIRT_ANGLES + 1, 3)
        normals[:, 0] = normals[:, -1] = normals[:, 0] + normals[:, -1]  # one normal on the seam
        normals = _unit(normals.reshape(-1, 3))
        a, n = m.mesh_vertadr[mesh], m.mesh_vertnum[mesh]
        m.mesh_vert[a:a + n] = v
        m.mesh_normal[m.mesh_normaladr[mesh]:m.mesh_normaladr[mesh] + n] = normals
        m.geom_pos[geom] = 0.0
        return [mesh]

    def paint(self, k: int, texture: np.ndarray) -> int:
        """Put slot ``k``'s texture, (TEXTURE, TEXTURE, 3) uint8 with row 0 at the atlas's top; returns the
        texture to re-upload."""
        m, t = self.model, self.texture_ids[k]
        a = m.tex_adr[t]
        m.tex_data[a:a + texture.size] = texture[::-1].ravel()  # MuJoCo's rows run from v = 0 up
        return t

    def park(self, k: int, offset: tuple[float, float, float] = PARK_OFFSET) -> None:
        """Move slot ``k``'s meshes by ``offset`` (out of view: behind and below the camera)."""
        self.model.geom_pos[[*self.geom_ids[k].values(), self.skirt_ids[k][1]]] = offset


def _normal_sums(incidence: scipy.sparse.csr_matrix, v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per vertex, the sum of the (area-weighted) normals of the triangles around it."""
    return incidence @ np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])


def _unit(n: np.ndarray) -> np.ndarray:
    return n / (np.linalg.norm(n, axis=1, keepdims=True) + 1e-12)


def _incidence(faces: np.ndarray, n_vert: int) -> scipy.sparse.csr_matrix:
    """(vertices, triangles) incidence: vertex normals = Σ of the (area-weighted) normals of the triangles
    around each vertex."""
    return scipy.sparse.csr_matrix((np.ones(faces.size), (faces.ravel(), np.repeat(np.arange(len(faces)), 3))),
                                   shape=(n_vert, len(faces)))
