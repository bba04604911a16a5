"""``simreal info``, ``generate digits/eyes`` and the importers of real data (UCI digits, UnityEyes, MPIIGaze)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from simreal.cli.common import (
    ConfigFile,
    Device,
    DryRun,
    Overwrite,
    RayOpt,
    Seed,
    Sets,
    ShardOpt,
    Workers,
    cli_errors,
    dry_run_printed,
    out,
    parse_shard,
    parse_size,
    with_shorthands,
)
from simreal.utils.errors import SimrealError

EYE_PRESETS_HELP = ("Appearance: clean (the simulator), calibrated (fitted to real webcam eyes: grey levels, lid "
                    "shapes, crease, gaze range) or webcam (a SIMULATED low-quality target domain standing in for "
                    "real eyes; not real data).")


@cli_errors
def info(
    dataset: Annotated[Path, typer.Argument(help="A simreal dataset folder.")],
    images: Annotated[bool, typer.Option(help="Also open and check every image (slower).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise (and validate) a dataset: count, task, domain, image, labels, factor ranges, provenance."""
    from simreal.data.info import dataset_info
    from simreal.data.reader import read_manifest
    from simreal.utils.progress import progress_bar

    count = read_manifest(dataset)["count"]
    with progress_bar(False if as_json else None) as bar:
        task = bar.add_task("checking", total=count, status="")
        summary = dataset_info(dataset, on_step=lambda: bar.advance(task), check_images=images)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    from simreal.cli.format import print_info

    print_info(out, summary)


@cli_errors
def generate_digits(
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    count: Annotated[int, typer.Option(min=1, help="Number of images.")] = 6000,
    seed: Seed = 0,
    fonts: Annotated[Path | None, typer.Option(help="Folder of .ttf/.otf fonts (default: matplotlib's).")] = None,
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    overwrite: Overwrite = False,
) -> None:
    """Render printed digits 0–9 as 8×8 UCI-style images (fonts, pose, stroke width randomised)."""
    from simreal.simulate.digits import DigitSimConfig
    from simreal.simulate.write import generate_digits as run
    from simreal.utils.config import resolve

    cfg = resolve(DigitSimConfig(), config, sets)
    if dry_run_printed(cfg, dry_run):
        return
    path = run(out_dir, count, seed, fonts, cfg, overwrite=overwrite)
    out.print(f"wrote {count} synthetic digits to {path}")


@cli_errors
def generate_eyes(
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (a dataset, or UnityEyes files).")],
    count: Annotated[int, typer.Option(min=1, help="Number of images.")] = 10000,
    seed: Seed = 0,
    preset: Annotated[str, typer.Option(help=EYE_PRESETS_HELP)] = "clean",
    size: Annotated[str | None, typer.Option(help="HEIGHTxWIDTH of the images (default 35x55, the paper's; "
                                             "240x320 for --layout unityeyes).")] = None,
    rgb: Annotated[bool | None, typer.Option("--rgb/--grey", help="Colour or grey images (default grey; RGB for "
                                      "--layout unityeyes).")] = None,
    supersample: Annotated[int | None, typer.Option(min=1, max=8, help="Render at k× and average k×k blocks "
                                                    "(default 2).")] = None,
    layout: Annotated[str, typer.Option(help="simreal (a dataset) or unityeyes (N.jpg + N.json, wider view, "
                                        "for `simreal import unityeyes`).")] = "simreal",
    compile_: Annotated[bool, typer.Option("--compile/--no-compile", help="torch.compile the pixel shader (3.6-4.5x "
                                           "faster on 2 CPU cores after 2-10 s of compilation; byte-identical to "
                                           "eager on some CPUs, not all).")]
    = True,
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    workers: Workers = 1,
    shard: ShardOpt = None,
    ray: RayOpt = None,
    device: Device = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Render eye images with 3D gaze, head pose and UnityEyes-style landmarks (a procedural UnityEyes)."""
    from simreal.simulate.write import eye_layout_config, generate_unityeyes_layout
    from simreal.simulate.write import generate_eyes as run
    from simreal.utils.config import resolve

    h, w = parse_size(size) or (None, None)
    cfg = resolve(eye_layout_config(preset, layout), config,
                  with_shorthands(sets, {"height": h, "width": w, "rgb": rgb, "supersample": supersample}))
    if dry_run_printed(cfg, dry_run):
        return
    if layout == "unityeyes":
        if workers != 1 or shard or ray:
            raise SimrealError("--workers, --shard and --ray write a simreal dataset, not --layout unityeyes")
        path = generate_unityeyes_layout(out_dir, count, seed, preset, cfg, device, compile_)
    else:
        path = run(out_dir, count, seed, preset, cfg, device, compile_, overwrite, workers=workers,
                   shard=parse_shard(shard), ray_address=ray, log=out.print)
        if path is None:
            return  # one shard of several: generate_sharded said so
    note = "" if preset == "clean" else f" (preset {preset}: a SIMULATED domain, not real data)"
    out.print(f"wrote {count} synthetic eyes to {path}{note}")


@cli_errors
def import_unityeyes(
    src: Annotated[Path, typer.Argument(help="UnityEyes output folder (N.jpg + N.json).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    size: Annotated[str, typer.Option(help="HEIGHTxWIDTH of the crops.")] = "35x55",
    rgb: Annotated[bool, typer.Option("--rgb/--grey", help="Keep colour (default: grey, as in the paper).")]
    = False,
    limit: Annotated[int, typer.Option(min=0, help="Import only the first N samples (0 = all).")] = 0,
    overwrite: Overwrite = False,
) -> None:
    """Crop UnityEyes renders around the eyelid margin (1.5× the corner distance) with gaze and landmarks."""
    from simreal.data.importers.unityeyes import import_unityeyes as run

    h, w = parse_size(size)
    path = run(src, out_dir, h, w, rgb, limit, overwrite)
    out.print(f"wrote {path}")


@cli_errors
def import_mpiigaze(
    src: Annotated[Path, typer.Argument(help="MPIIGaze folder (or its Data/Normalized) with pXX/dayYY.mat.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    flip_left: Annotated[bool, typer.Option("--flip-left/--no-flip-left", help="Mirror left eyes into right "
                                            "eyes (gaze x and head pose mirrored too).")] = True,
    evaluation_subset: Annotated[bool, typer.Option("--evaluation-subset", help="Only the samples of "
                                                    "'Evaluation Subset/sample list for eye image'.")] = False,
    size: Annotated[str | None, typer.Option(help="Resize to HEIGHTxWIDTH (e.g. 35x55 for GazeNet and the "
                                             "refiner); default: keep 36x60.")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Import MPIIGaze's normalized eye images (36×60 grey, 3D gaze, head pose) as a real gaze dataset."""
    from simreal.data.importers.mpiigaze import import_mpiigaze as run

    path = run(src, out_dir, flip_left, evaluation_subset, parse_size(size), overwrite)
    out.print(f"wrote {path}")


@cli_errors
def import_mnist(
    folder: Annotated[Path, typer.Argument(help="Folder with the four MNIST IDX files (gzipped or not).")]
    = Path("data/real-cache/mnist"),
    out_dir: Annotated[Path, typer.Option("--out", help="Folder that receives pool/, train/ and test/.")]
    = Path("data/mnist"),
    seed: Seed = 0,
    pool: Annotated[float, typer.Option(help="Fraction of the 60,000 training digits for the unlabeled pool "
                                        "(refiner); the rest is the labeled train split.")] = 0.5,
    overwrite: Overwrite = False,
) -> None:
    """Write the 70,000 real MNIST digits (28×28) as pool/train (the official training set, split) and test (t10k)."""
    from simreal.data.importers.mnist import import_mnist as run

    for name, path in run(folder, out_dir, seed, pool, overwrite).items():
        out.print(f"{name}: {path}")


@cli_errors
def import_face_video(
    src: Annotated[list[Path] | None, typer.Argument(help="Face videos or photos, or folders of them (.mp4 .avi .webm "
                                              ".mov .mkv .jpg .png; default: data/real-cache/faces).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset of unlabeled real eye crops.")]
    = Path("data/real-eyes"),
    size: Annotated[str, typer.Option(help="HEIGHTxWIDTH of the crops (35x55, the paper's and the eye "
                                      "simulator's).")] = "35x55",
    every: Annotated[int, typer.Option(min=1, help="Use every N-th video frame (neighbouring frames are near "
                                       "duplicates).")] = 10,
    min_eye_px: Annotated[int, typer.Option(min=1, help="Skip eyes whose corner distance (Haar: box width) is "
                                            "smaller, in frame px.")] = 20,
    crop_scale: Annotated[float, typer.Option(min=0.1, help="Crop width as a multiple of the standard crop (1.5 × "
                                              "the corner distance; Haar: the eye box).")] = 1.0,
    rgb: Annotated[bool, typer.Option("--rgb/--grey", help="Colour or grey crops.")] = False,
    landmarks: Annotated[str, typer.Option(help="Eye detector: mediapipe (face mesh: eye corners and eyelids, "
                                           "`make mediapipe` sets it up), haar (OpenCV's bundled cascades: "
                                           "eye boxes), or auto (mediapipe where set up).")] = "auto",
    flip: Annotated[bool, typer.Option("--flip/--no-flip", help="Mirror the person's left eyes (on the image's "
                                       "right) into right eyes, as the MPIIGaze importer does.")] = True,
    min_openness: Annotated[float, typer.Option(min=0.0, help="MediaPipe: skip eyes whose eyelid gap is under this "
                                                "fraction of the corner distance (closed).")] = 0.15,
    max_per_source: Annotated[int | None, typer.Option(min=1, help="Keep at most N eyes of each video or photo, "
                                                       "evenly spread over its frames, so that one long video "
                                                       "does not make the pool one person's (default: all).")
                              ] = None,
    python: Annotated[Path | None, typer.Option(help="The Python that runs MediaPipe (default: "
                                                   "$SIMREAL_MEDIAPIPE_PYTHON, else .venv-mediapipe/bin/python)."
                                                   )] = None,
    overwrite: Overwrite = False,
) -> None:
    """Unlabeled real eye crops from face videos and photos (MediaPipe's face mesh or OpenCV's cascades)."""
    from simreal.data.importers.face_video import import_face_video as run

    counts = run(src or [Path("data/real-cache/faces")], out_dir, parse_size(size), every, min_eye_px, crop_scale,
                 rgb, landmarks, flip, min_openness, max_per_source=max_per_source, python=python,
                 overwrite=overwrite, log=out.print)
    out.print(f"wrote {counts.get('eyes written', 0)} real eye crops to {out_dir}")


@cli_errors
def import_video(
    src: Annotated[Path, typer.Argument(help="A video file (.mp4 .avi .webm .mov .mkv).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset (task images: unlabeled frames).")],
    every: Annotated[int, typer.Option(min=1, help="Keep every N-th frame (neighbours are near duplicates).")] = 10,
    overwrite: Overwrite = False,
) -> None:
    """Frames of a video as an unlabeled real image dataset (targets, backgrounds)."""
    from simreal.data.importers.video import import_video as run

    path = run(src, out_dir, every, overwrite)
    out.print(f"wrote {path}")


@cli_errors
def import_person_crops(
    src: Annotated[Path, typer.Argument(help="A keypoint dataset (its labelled boxes) or unlabeled frames (task "
                                        "images: OpenCV's HOG people detector).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset of person crops (task images).")],
    size: Annotated[str, typer.Option(help="HEIGHTxWIDTH of the crops.")] = "128x64",
    min_height: Annotated[int, typer.Option(min=1, help="Skip people shorter than this (px in the image).")] = 64,
    margin: Annotated[float, typer.Option(min=0.0, help="Grow each box by this fraction on every side.")] = 0.1,
    min_score: Annotated[float, typer.Option(help="HOG detections below this SVM score are dropped.")] = 0.5,
    limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N images.")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Crops of the people in a dataset, for a realism observer on people rather than scenes."""
    from simreal.data.importers.person_crops import import_person_crops as run

    counts = run(src, out_dir, parse_size(size), min_height, margin, min_score, limit, overwrite)
    out.print(f"wrote {counts['written']} person crops to {out_dir} ({counts['images']} images, {counts['people']} "
              f"people, {counts['too small']} too small)")


@cli_errors
def import_uci(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder that receives pool/, train/ and test/.")],
    seed: Seed = 0,
    pool: Annotated[float, typer.Option(help="Fraction for the unlabeled pool (refiner).")] = 0.5,
    train: Annotated[float, typer.Option(help="Fraction for the labeled training split; test gets the rest.")]
    = 0.25,
    overwrite: Overwrite = False,
) -> None:
    """Write scikit-learn's 1,797 real handwritten UCI digits as disjoint pool/train/test datasets."""
    from simreal.data.importers.uci_digits import import_uci_digits

    paths = import_uci_digits(out_dir, seed, pool, train, overwrite)
    for name, path in paths.items():
        out.print(f"{name}: {path}")
