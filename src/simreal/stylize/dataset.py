"""``simreal stylize``: D_Style, a D_M (or D_S) dataset whose synthetic people take the style of real people.

- From **D_M** (the paper's case): each image's style comes from its own real people (the paper pairs the
  D_M image with its real background image; the real people's pixels are the same in both, except where a
  synthetic person now covers them, which the masks leave out).
- From **D_S** or D_M with ``style_dir``: a folder of real photos (or an unlabeled ``simreal import video``
  dataset); each image draws ``style_photos`` of them (seeded by its index) and takes the style of the people
  found in them, pooled (:func:`~simreal.stylize.people.grabcut_people` unless another segmenter is named):
  a photo or two of small pedestrians hold too few pixels for a steady covariance.

Every metadata line and every mask and depth file is copied byte for byte; only the synthetic people's pixels
of the image change (:mod:`~simreal.stylize.image`). Images whose style source has fewer than
``min_style_pixels`` real-person pixels are copied unchanged and counted in the provenance. Interrupted runs
resume where they stopped (the writer's rule), with the same bytes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simreal.data.derive import derived_writer, parent_ref, sample_mask
from simreal.data.format import MANIFEST, Provenance, command_line
from simreal.data.reader import SimrealDataset, read_manifest
from simreal.stylize.colour import ColourStats
from simreal.stylize.image import Style, StylizeConfig, style_stats, stylize_image
from simreal.stylize.people import SEGMENTERS, instance_people, load_segmenter, real_people, segmented
from simreal.stylize.photowct import load_photowct
from simreal.utils.errors import DatasetError, InputError
from simreal.utils.progress import progress_bar, track
from simreal.utils.seeding import numpy_rng, pick_device

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
COPIED_FOLDERS = ("masks", "depth")  # per-sample files carried over byte for byte


def style_images(style_dir: Path) -> list[Callable[[], np.ndarray]]:
    """A loader (RGB uint8) for each style photo: a simreal dataset's images, or the image files of a folder."""
    if (style_dir / MANIFEST).is_file():
        ds = SimrealDataset(style_dir)
        return [lambda i=i: np.asarray(Image.fromarray(ds.image_array(i)).convert("RGB")) for i in range(len(ds))]
    if not style_dir.is_dir():
        raise InputError(f"--style {style_dir}: not a folder of photos")
    files = sorted(p for p in style_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return [lambda p=p: np.asarray(Image.open(p).convert("RGB")) for p in files]


def style_bank(style_dir: Path, cfg: StylizeConfig, segmenter_spec: str, log: Callable[[str], object]
               ) -> list[Style]:
    """The real people's style in every usable style photo (people found by ``segmenter_spec``: grabcut or a
    plug-in)."""
    segmenter = load_segmenter(segmenter_spec)
    photos = style_images(style_dir)
    bank = []
    for load in track(photos, "style photos"):
        image = load()
        stats = style_stats(image, segmented(segmenter, image), cfg)
        if stats is not None:
            bank.append(stats)
    if not bank:
        raise InputError(f"--style {style_dir}: no person of at least {cfg.min_style_pixels} pixels found in "
                         f"{len(photos)} photos")
    log(f"style: the people of {len(bank)} of {len(photos)} photos in {style_dir}")
    return bank


def pick_style(bank: list[Style], rng: np.random.Generator, cfg: StylizeConfig) -> Style:
    """The style of one image: ``style_photos`` photos of the bank drawn without replacement, their people's
    colours pooled (PhotoWCT takes the first: it needs one style image)."""
    picks = rng.choice(len(bank), size=min(cfg.style_photos, len(bank)), replace=False)
    if cfg.method == "photowct" or len(picks) == 1:
        return bank[int(picks[0])]
    return ColourStats.pooled([bank[int(k)] for k in picks])


def check_source(src: Path) -> dict[str, Any]:
    manifest = read_manifest(src)
    if manifest["task"] != "keypoints":
        raise DatasetError(f"stylize needs a people dataset (D_M or D_S, task keypoints); task is "
                           f"{manifest['task']!r}", src)
    if manifest["image"]["mode"] != "RGB":
        raise DatasetError(f"stylize needs RGB images (mode is {manifest['image']['mode']})", src)
    if not (src / "masks").is_dir():
        raise DatasetError("stylize needs the synthetic people's instance masks (masks/), as generate people "
                           "and generate mixed write them", src)
    return manifest


def stylize_dataset(src: str | Path, out: str | Path, cfg: StylizeConfig = StylizeConfig(),
                    style_dir: str | Path | None = None, segmenter: str = "auto", seed: int = 0,
                    overwrite: bool = False, show_progress: bool | None = None,
                    log: Callable[[str], object] = print) -> dict[str, Any]:
    """Write D_Style from the D_M or D_S dataset ``src`` into ``out``; returns the counts."""
    src, out = Path(src), Path(out)
    manifest = check_source(src)
    if cfg.method == "photowct":  # a bad weights file fails here, before --out is claimed
        load_photowct(cfg.vgg_weights, str(pick_device("auto")))
    if segmenter not in SEGMENTERS and ":" not in segmenter:
        raise InputError(f"--person-segmenter {segmenter!r}: use {', '.join(SEGMENTERS)} or module:function")
    ds = SimrealDataset(src)
    if style_dir is not None:  # photos have no labels: GrabCut unless a plug-in is named
        segmenter = "grabcut" if segmenter in ("auto", "keypoints") else segmenter
        bank, plug = style_bank(Path(style_dir), cfg, segmenter, log), None
    else:
        bank, plug = None, load_segmenter(segmenter)
    config = {"stylize": dataclasses.asdict(cfg), "style": str(Path(style_dir).resolve()) if style_dir else None,
              "person_segmenter": segmenter}
    prov = Provenance(command_line(), config, seed, parents=[parent_ref(src, manifest)],
                      labels_copied_from=manifest["name"])
    counts = {"images": 0, "stylized": 0, "unchanged: no synthetic people": 0,
              "unchanged: too few real-person pixels": 0}
    sources: dict[str, int] = {}
    start = time.perf_counter()
    skeleton = manifest.get("skeleton") or []
    with derived_writer(ds, out, name=f"{manifest['name']}-stylized", domain="stylized", provenance=prov,
                        overwrite=overwrite) as writer, progress_bar(show_progress) as bar:
        task = bar.add_task("stylize", total=len(ds), completed=writer.done, status="")
        for i in range(writer.done, len(ds)):
            rec = ds.record(i)
            image = np.asarray(Image.open(src / rec["file_name"]).convert("RGB"))
            mask = sample_mask(ds, rec)
            if bank is not None:
                content = instance_people(mask, rec.get("people", []))[0] if mask is not None else None
                style = pick_style(bank, numpy_rng(seed, i), cfg)
                where = f"style photos ({segmenter})"
            else:
                content, real, where = real_people(image, rec, mask, skeleton, segmenter, plug)
                style = style_stats(image, real, cfg)
            if content is None or not content.any():
                result, key = image, "unchanged: no synthetic people"
            elif style is None:
                result, key = image, "unchanged: too few real-person pixels"
            else:
                result, key = stylize_image(image, content, style, cfg), "stylized"
                sources[where] = sources.get(where, 0) + 1
            counts["images"] += 1
            counts[key] += 1
            copied = {}
            for folder in COPIED_FOLDERS:
                path = src / rec["file_name"].replace("images/", f"{folder}/", 1)
                if path.is_file():
                    copied[folder] = path.read_bytes()
            writer.add_raw(result, ds.raw_line(i), extra=copied)
            bar.update(task, advance=1, status=f"{counts['stylized']} stylized")
        writer.provenance.extra.update(counts=counts, real_people_from=sources)
    seconds = time.perf_counter() - start
    log(f"stylized {counts['stylized']} of {counts['images']} images in {seconds:.1f} s "
        f"({counts['images'] / max(seconds, 1e-9):.1f} images/s; real people from {sources or 'nowhere'}); "
        f"{counts['unchanged: no synthetic people']} without synthetic people and "
        f"{counts['unchanged: too few real-person pixels']} with too few real-person pixels left unchanged")
    return counts
