"""COCO keypoints JSON ⇄ simreal keypoint datasets.

Export writes ``images`` (``file_name`` relative to the dataset, so the dataset folder is the image root),
``annotations`` (``keypoints`` flat ``[x, y, v] * K``, ``num_keypoints`` = number with v > 0, ``bbox``,
``area``, ``iscrowd``, and an RLE ``segmentation`` from the instance mask via pycocotools) and
``categories`` (person, keypoint names, 1-based skeleton). Fields that COCO has no place for (MPII
keypoints, occluders, 3D joints, factors, the camera) travel in a ``simreal`` object on each image and
annotation, which COCO tools ignore; so ``import(export(D))`` reproduces ``D``'s records, images and masks.

Import reads any COCO keypoints file: people come from the annotations of category "person" (or the only
category), masks from their polygons or RLE (later annotations overwrite earlier ones where they overlap);
images keep their size (the dataset's image size is variable unless all images share one).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simreal.data.format import MANIFEST, ImageSpec, LabelField, Provenance, command_line
from simreal.data.keypoints import COCO_FLIP_PAIRS, COCO_KEYPOINTS, COCO_SKELETON
from simreal.data.reader import SimrealDataset, read_manifest
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import DatasetError, SimrealError
from simreal.utils.fileio import atomic_write_bytes
from simreal.utils.progress import progress_bar

COCO_FIELDS = ("keypoints", "bbox", "area", "iscrowd")


def _rle(mask: np.ndarray) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def export_coco(root: str | Path, out_json: str | Path, show_progress: bool | None = None) -> dict[str, int]:
    """Write ``root`` (a keypoint dataset) as a COCO keypoints JSON; returns image and person counts."""
    root = Path(root)
    manifest = read_manifest(root)
    if manifest["task"] != "keypoints":
        raise DatasetError(f"only keypoint datasets export to COCO keypoints (task is {manifest['task']!r})", root)
    ds = SimrealDataset(root)
    images, annotations = [], []
    with progress_bar(show_progress) as bar:
        task = bar.add_task("export coco", total=len(ds), status="")
        for i, rec in enumerate(ds.records()):
            w, h = Image.open(root / rec["file_name"]).size
            mask_path = root / rec["file_name"].replace("images/", "masks/", 1)
            mask = np.asarray(Image.open(mask_path)) if mask_path.exists() else None
            extra = {k: v for k, v in rec.items() if k not in ("file_name", "people")}
            images.append({"id": i + 1, "file_name": rec["file_name"], "width": w, "height": h, "simreal": extra})
            for person in rec.get("people", []):
                kps = person["keypoints"]
                ann = {"id": len(annotations) + 1, "image_id": i + 1, "category_id": 1,
                       "keypoints": [v for kp in kps for v in (kp[0], kp[1], int(kp[2]))],
                       "num_keypoints": sum(1 for kp in kps if kp[2] > 0),
                       "bbox": person.get("bbox") or [0, 0, 0, 0], "area": person.get("area", 0),
                       "iscrowd": person.get("iscrowd", 0),
                       "simreal": {k: v for k, v in person.items() if k not in COCO_FIELDS}}
                if mask is not None and person.get("mask_id"):
                    ann["segmentation"] = _rle(mask == person["mask_id"])
                annotations.append(ann)
            bar.advance(task)
    coco = {"info": {"description": manifest["name"], "simreal_manifest": manifest}, "images": images,
            "annotations": annotations,
            "categories": [{"id": 1, "name": "person", "supercategory": "person",
                            "keypoints": manifest.get("keypoint_names") or COCO_KEYPOINTS,
                            "skeleton": manifest.get("skeleton") or COCO_SKELETON}]}
    atomic_write_bytes(Path(out_json), json.dumps(coco).encode())
    return {"images": len(images), "people": len(annotations)}


def _load_coco(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SimrealError(f"{path}: COCO JSON not found")
    try:
        coco = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DatasetError(f"not valid JSON ({e.msg} at line {e.lineno})", path) from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco.get(key), list):
            raise DatasetError(f"not a COCO file: no '{key}' list", path)
    return coco


def _person_category(coco: dict[str, Any], path: Path) -> dict[str, Any]:
    cats = coco["categories"]
    for c in cats:
        if c.get("name") == "person":
            return c
    if len(cats) == 1:
        return cats[0]
    raise DatasetError("no 'person' category", path)


def _mask(ann: dict[str, Any], h: int, w: int) -> np.ndarray | None:
    from pycocotools import mask as mask_utils

    seg = ann.get("segmentation")
    if not seg:
        return None
    if isinstance(seg, list):  # polygons
        rles = mask_utils.frPyObjects(seg, h, w)
        rle = mask_utils.merge(rles)
    elif isinstance(seg.get("counts"), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(seg, h, w)
    else:
        rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
    return mask_utils.decode(rle).astype(bool)


def import_coco(coco_json: str | Path, images_dir: str | Path, out: str | Path, domain: str = "real",
                overwrite: bool = False, show_progress: bool | None = None) -> Path:
    """Write a COCO keypoints file and its images as a simreal keypoint dataset."""
    coco_json, images_dir = Path(coco_json), Path(images_dir)
    coco = _load_coco(coco_json)
    cat = _person_category(coco, coco_json)
    names = cat.get("keypoints") or COCO_KEYPOINTS
    by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ann in coco["annotations"]:
        if ann.get("category_id") == cat["id"]:
            by_image[ann["image_id"]].append(ann)
    meta = coco.get("info", {}).get("simreal_manifest", {})
    sizes = {(im["height"], im["width"]) for im in coco["images"]}
    height, width = sizes.pop() if len(sizes) == 1 else (None, None)
    flip = meta.get("flip_pairs") or (COCO_FLIP_PAIRS if names == COCO_KEYPOINTS else None)
    schema = {k: LabelField.from_json(v) for k, v in meta.get("label_schema", {}).items()} or {
        "people": LabelField("object", None, "persons: keypoints [[x, y, v]] (COCO convention), bbox, area, "
                             "iscrowd, mask_id, synthetic")}
    prov = Provenance(command_line(), {"coco_json": str(coco_json.resolve()), "images": str(images_dir.resolve())},
                      extra={"imported_from": "COCO keypoints"})
    writer = DatasetWriter(out, name=meta.get("name", coco_json.stem), task="keypoints",
                           domain=meta.get("domain", domain), image=ImageSpec("RGB", height, width),
                           label_schema=schema, provenance=prov, keypoint_names=list(names),
                           skeleton=cat.get("skeleton") or COCO_SKELETON, flip_pairs=flip, overwrite=overwrite)
    with writer, progress_bar(show_progress) as bar:
        task = bar.add_task("import coco", total=len(coco["images"]), completed=writer.done, status="")
        for im in coco["images"][writer.done:]:
            path = images_dir / im["file_name"]
            if not path.is_file():
                raise DatasetError(f"image {im['file_name']} listed in {coco_json.name} not found", images_dir)
            image = np.asarray(Image.open(path).convert("RGB"))
            mask = np.zeros(image.shape[:2], np.uint8)
            people = []
            for k, ann in enumerate(by_image.get(im["id"], [])):
                flat = ann.get("keypoints") or [0] * (3 * len(names))
                if len(flat) != 3 * len(names):
                    raise DatasetError(f"annotation {ann.get('id')}: {len(flat)} keypoint values, expected "
                                       f"{3 * len(names)}", coco_json)
                extra = ann.get("simreal", {})
                kps = [[flat[3 * j], flat[3 * j + 1], int(flat[3 * j + 2])] for j in range(len(names))]
                person = {"keypoints": kps, "bbox": ann.get("bbox"), "area": ann.get("area", 0), **extra}
                if "iscrowd" not in extra and "synthetic" not in extra:
                    person.update(iscrowd=ann.get("iscrowd", 0), synthetic=False)
                seg = _mask(ann, image.shape[0], image.shape[1])
                if seg is not None:
                    mask_id = extra.get("mask_id", k + 1)
                    mask[seg] = mask_id
                    person["mask_id"] = mask_id
                people.append(_ordered(person))
            record = {"people": people, **im.get("simreal", {"synthetic": False, "coco_id": im["id"]})}
            writer.add(image, record, mask=mask if mask.any() else None)
            bar.advance(task)
    if not (Path(out) / MANIFEST).exists():
        raise DatasetError("import did not finish", out)
    return Path(out)


def _ordered(person: dict[str, Any]) -> dict[str, Any]:
    """Keys in the order simreal's generators write them (so a round trip gives identical JSON lines)."""
    order = ["keypoints", "keypoints_mpii", "occluded_by", "occluded_by_mpii", "bbox", "head_box", "area", "iscrowd",
             "mask_id",
             "person", "synthetic"]
    return {**{k: person[k] for k in order if k in person}, **{k: v for k, v in person.items() if k not in order}}
