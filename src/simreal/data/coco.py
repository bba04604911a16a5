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
from PIL import Image, UnidentifiedImageError

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


def _mask(ann: dict[str, Any], h: int, w: int, path: Path) -> np.ndarray | None:
    from pycocotools import mask as mask_utils

    seg = ann.get("segmentation")
    if not seg:
        return None
    try:
        if isinstance(seg, list):  # polygons
            rles = mask_utils.frPyObjects(seg, h, w)
            rle = mask_utils.merge(rles)
        elif isinstance(seg.get("counts"), list):  # uncompressed RLE
            if sum(seg["counts"]) != h * w:  # pycocotools would leave the rest of the mask uninitialised
                raise DatasetError(f"annotation {ann.get('id')}: RLE counts cover {sum(seg['counts'])} pixels, "
                                   f"its image {w}x{h} = {h * w}", path)
            rle = mask_utils.frPyObjects(seg, h, w)
        else:
            rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
        mask = mask_utils.decode(rle).astype(bool)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise DatasetError(f"annotation {ann.get('id')}: invalid segmentation ({exc.__class__.__name__})",
                           path) from None
    if mask.shape != (h, w):
        raise DatasetError(f"annotation {ann.get('id')}: segmentation is {mask.shape[1]}x{mask.shape[0]}, its image "
                           f"{w}x{h}", path)
    return mask


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_coco(coco: dict[str, Any], cat: dict[str, Any], n_keypoints: int, path: Path) -> None:
    """What the importer relies on, before anything is written: unique integer image ids, positive sizes,
    file names inside the images folder, annotations of existing images with numeric keypoints and
    visibilities 0, 1 or 2."""
    ids = set()
    for im in coco["images"]:
        if not isinstance(im, dict) or not _is_int(im.get("id")):
            raise DatasetError(f"an image entry without an integer 'id': {str(im)[:80]}", path)
        if im["id"] in ids:
            raise DatasetError(f"image id {im['id']} appears twice", path)
        ids.add(im["id"])
        for side in ("height", "width"):
            if not (_is_int(im.get(side)) and im[side] > 0):
                raise DatasetError(f"image {im['id']}: '{side}' must be a positive integer, got {im.get(side)!r}",
                                   path)
        name = im.get("file_name")
        if not isinstance(name, str) or not name:
            raise DatasetError(f"image {im['id']}: no 'file_name'", path)
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise DatasetError(f"image {im['id']}: file_name {name!r} leaves the images folder", path)
    for ann in coco["annotations"]:
        if not isinstance(ann, dict) or ann.get("category_id") != cat["id"]:
            continue
        if ann.get("image_id") not in ids:
            raise DatasetError(f"annotation {ann.get('id')}: image_id {ann.get('image_id')!r} is not an image of the "
                               "file", path)
        flat = ann.get("keypoints") or [0] * (3 * n_keypoints)
        if not isinstance(flat, list) or len(flat) != 3 * n_keypoints:
            raise DatasetError(f"annotation {ann.get('id')}: {len(flat) if isinstance(flat, list) else flat!r} "
                               f"keypoint values, expected {3 * n_keypoints}", path)
        for j in range(n_keypoints):
            x, y, v = flat[3 * j: 3 * j + 3]
            numeric = all(isinstance(c, (int, float)) and not isinstance(c, bool) and np.isfinite(c) for c in (x, y))
            if not numeric or v not in (0, 1, 2) or isinstance(v, bool):
                raise DatasetError(f"annotation {ann.get('id')}: keypoint {j} is {[x, y, v]!r} (x, y numbers, "
                                   "v 0, 1 or 2)", path)


def _open_image(path: Path, im: dict[str, Any], coco_json: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            image = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"corrupt image ({exc.__class__.__name__})", path) from None
    if image.shape[:2] != (im["height"], im["width"]):
        raise DatasetError(f"image is {image.shape[1]}x{image.shape[0]}, {coco_json.name} says "
                           f"{im['width']}x{im['height']}", path)
    return image


def import_coco(coco_json: str | Path, images_dir: str | Path, out: str | Path, domain: str | None = None,
                overwrite: bool = False, show_progress: bool | None = None) -> Path:
    """Write a COCO keypoints file and its images as a simreal keypoint dataset. ``domain``: what to record
    (default: the one in simreal's own info of an exported file, else ``real``)."""
    coco_json, images_dir = Path(coco_json), Path(images_dir)
    coco = _load_coco(coco_json)
    cat = _person_category(coco, coco_json)
    names = cat.get("keypoints") or COCO_KEYPOINTS
    check_coco(coco, cat, len(names), coco_json)
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
                           domain=domain or meta.get("domain", "real"), image=ImageSpec("RGB", height, width),
                           label_schema=schema, provenance=prov, keypoint_names=list(names),
                           skeleton=cat.get("skeleton") or COCO_SKELETON, flip_pairs=flip, overwrite=overwrite)
    with writer, progress_bar(show_progress) as bar:
        task = bar.add_task("import coco", total=len(coco["images"]), completed=writer.done, status="")
        for im in coco["images"][writer.done:]:
            path = images_dir / im["file_name"]
            if not path.is_file():
                raise DatasetError(f"image {im['file_name']} listed in {coco_json.name} not found", images_dir)
            image = _open_image(path, im, coco_json)
            mask = np.zeros(image.shape[:2], np.uint8)
            people = []
            for k, ann in enumerate(by_image.get(im["id"], [])):
                flat = ann.get("keypoints") or [0] * (3 * len(names))
                extra = ann.get("simreal", {})
                kps = [[flat[3 * j], flat[3 * j + 1], int(flat[3 * j + 2])] for j in range(len(names))]
                person = {"keypoints": kps, "bbox": ann.get("bbox"), "area": ann.get("area", 0), **extra}
                if "iscrowd" not in extra and "synthetic" not in extra:
                    person.update(iscrowd=ann.get("iscrowd", 0), synthetic=False)
                seg = _mask(ann, image.shape[0], image.shape[1], coco_json)
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
