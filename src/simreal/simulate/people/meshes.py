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
"""

from __future__ import annotations

import mujoco
import numpy as np
import scipy.sparse

from simreal.simulate.people.anny import AnnyModel
from simreal.simulate.people.clothes import TEXTURE

HIDDEN_GROUP = 3  # not drawn by MuJoCo's default visual options (groups 0-2)


class MeshSlots:
    def __init__(self, body: AnnyModel, n_slots: int):
        self.body, self.n = body, n_slots
        faces = body.faces
        self.parts = {}  # segment → (its vertices, its triangles, its UVs, its triangles' UVs), in its own numbering
        for name, tri in body.segments.items():
            verts, uvs = np.unique(faces[tri]), np.unique(body.face_uv[tri])
            self.parts[name] = (verts, np.searchsorted(verts, faces[tri]).astype(np.int32), uvs,
                                np.searchsorted(uvs, body.face_uv[tri]).astype(np.int32))
        n_vert = len(body.template)
        # vertex normals = Σ of the (area-weighted) normals of the triangles around the vertex
        self._incidence = scipy.sparse.csr_matrix(
            (np.ones(faces.size), (faces.ravel(), np.repeat(np.arange(len(faces)), 3))), shape=(n_vert, len(faces)))

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

    def bind(self, model: mujoco.MjModel) -> None:
        """Look up the compiled meshes and geoms; give the geoms an identity pose (world-coordinate vertices)."""
        self.model = model
        self.mesh_ids = [{name: model.mesh(f"p{k}_{name}").id for name in self.parts} for k in range(self.n)]
        self.geom_ids = [{name: model.geom(f"p{k}_mesh_{name}").id for name in self.parts} for k in range(self.n)]
        self.texture_ids = [model.texture(f"p{k}_texture").id for k in range(self.n)]
        for k in range(self.n):
            ids = list(self.geom_ids[k].values())
            model.geom_quat[ids] = (1.0, 0.0, 0.0, 0.0)
            self.park(k)

    def segment_bodies(self, k: int) -> dict[int, int]:
        """Mesh geom id → the capsule body of its segment."""
        return {g: self.model.body(f"p{k}_{name}").id for name, g in self.geom_ids[k].items()}

    def write(self, k: int, vertices: np.ndarray) -> list[int]:
        """Put world-coordinate ``vertices`` (V, 3) into slot ``k``; returns the meshes to re-upload."""
        m, faces = self.model, self.body.faces
        v = vertices.astype(np.float64)
        normals = self._incidence @ np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
        normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
        for name, (verts, *_) in self.parts.items():
            mesh = self.mesh_ids[k][name]
            a, n = m.mesh_vertadr[mesh], m.mesh_vertnum[mesh]
            m.mesh_vert[a:a + n] = v[verts]
            a = m.mesh_normaladr[mesh]
            m.mesh_normal[a:a + n] = normals[verts]
        m.geom_pos[list(self.geom_ids[k].values())] = 0.0
        return list(self.mesh_ids[k].values())

    def paint(self, k: int, texture: np.ndarray) -> int:
        """Put slot ``k``'s texture, (TEXTURE, TEXTURE, 3) uint8 with row 0 at the atlas's top; returns the
        texture to re-upload."""
        m, t = self.model, self.texture_ids[k]
        a = m.tex_adr[t]
        m.tex_data[a:a + texture.size] = texture[::-1].ravel()  # MuJoCo's rows run from v = 0 up
        return t

    def park(self, k: int, offset: tuple[float, float, float] = (-60.0, 0.0, -50.0)) -> None:
        """Move slot ``k``'s meshes by ``offset`` (out of view: behind and below the camera)."""
        self.model.geom_pos[list(self.geom_ids[k].values())] = offset
