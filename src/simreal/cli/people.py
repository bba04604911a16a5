"""``simreal generate people/mixed``, ``stylize``, ``show``, ``import/export coco`` and ``experiment pose``."""

from __future__ import annotations

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
    with_shorthands,
)
from simreal.utils.errors import SimrealError

Backgrounds = Annotated[Path | None, typer.Option(help="Folder of background photos, or builtin (default: "
                                                  "$SIMREAL_BACKGROUNDS, else data/backgrounds where `make "
                                                  "backgrounds` has fetched photographs of places, else builtin: "
                                                  "the few photos shipped with scikit-image, scikit-learn and "
                                                  "matplotlib). A backgrounds.json there may give each photo's "
                                                  "horizon, which then sets the camera's pitch.")]
Detector = Annotated[str, typer.Option(help="Person detector that rejects backgrounds with people: opencv (HOG "
                                       "people + Haar faces), none, or package.module:function.")]
Body = Annotated[str | None, typer.Option(help="anny: realistic Anny body meshes (needs `make body-model`); "
                                          "capsules: the faster capsule bodies; auto (default): anny where "
                                          "the body model exists, else capsules (scene.body).")]


@cli_errors
def generate_people(
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    count: Annotated[int, typer.Option(min=1, help="Number of 640×640 scenes.")] = 100,
    seed: Seed = 0,
    people_lambda: Annotated[float | None, typer.Option(help="Mean number of people per scene (Poisson; paper: "
                                                        "9, the authors' code: 10 with --min-people 2).")] = None,
    min_people: Annotated[int | None, typer.Option(min=1, help="At least this many people per scene.")] = None,
    body: Body = None,
    backgrounds: Backgrounds = None,
    person_detector: Detector = "opencv",
    workers: Workers = 1,
    shard: ShardOpt = None,
    ray: RayOpt = None,
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    overwrite: Overwrite = False,
) -> None:
    """Render D_S: MuJoCo people on background photos with COCO/MPII keypoints, visibility, masks and depth."""
    from simreal.simulate.people.generate import PeopleConfig
    from simreal.simulate.people.generate import generate_people as run
    from simreal.utils.config import resolve

    cfg = resolve(PeopleConfig(), config, with_shorthands(sets, {
        "scene.people_lambda": people_lambda, "scene.min_people": min_people, "scene.body": body,
        "backgrounds": backgrounds or "none", "person_detector": person_detector}))
    if dry_run_printed(cfg, dry_run):
        return
    path = run(out_dir, count, seed, cfg, workers, parse_shard(shard), ray, overwrite)
    if path is not None:
        out.print(f"wrote {count} synthetic multi-person scenes to {path}")


@cli_errors
def generate_mixed(
    real: Annotated[Path, typer.Option(help="Real keypoint data: a simreal dataset, or a COCO keypoints JSON "
                                       "(then also --images).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    images: Annotated[Path | None, typer.Option(help="Image folder of a COCO --real JSON.")] = None,
    renders_per_image: Annotated[int | None, typer.Option(min=1, help="K: different draws per real image "
                                                          "(default 5, the paper's; renders_per_image).")] = None,
    people_lambda: Annotated[float | None, typer.Option(help="Mean number of synthetic people per image (Poisson; "
                                                        "default 4, the paper's; scene.people_lambda).")] = None,
    min_people: Annotated[int | None, typer.Option(min=0, help="At least this many synthetic people (default 1; "
                                                   "scene.min_people).")] = None,
    body: Body = None,
    limit: Annotated[int, typer.Option(min=0, help="Use only the first N real images (0: all).")] = 0,
    seed: Seed = 0,
    workers: Workers = 1,
    shard: ShardOpt = None,
    ray: RayOpt = None,
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    overwrite: Overwrite = False,
) -> None:
    """Render D_M: synthetic people superimposed on real images; real labels kept, occlusions updated."""
    from simreal.simulate.people.mixed import MixedConfig
    from simreal.simulate.people.mixed import generate_mixed as run
    from simreal.utils.config import resolve

    cfg = resolve(MixedConfig(), config, with_shorthands(sets, {
        "renders_per_image": renders_per_image, "scene.people_lambda": people_lambda, "scene.min_people": min_people,
        "scene.body": body}))
    if dry_run_printed(cfg, dry_run):
        return

    if real.suffix.lower() == ".json":
        if images is None:
            raise SimrealError("--real is a COCO JSON: give its image folder with --images")
        from simreal.data.coco import import_coco

        imported = out_dir.with_name(out_dir.name + "-real")
        if (imported / "dataset.json").exists() and not overwrite:
            out.print(f"using {imported}, imported from {real} before")
            real = imported
        elif shard is not None:
            raise SimrealError(f"with --shard, import the COCO JSON once first: simreal import coco {real} "
                               f"{images} --out {imported}")
        else:
            out.print(f"importing {real} into {imported}")
            real = import_coco(real, images, imported, overwrite=overwrite)
    path = run(real, out_dir, seed, cfg, limit, overwrite, workers=workers, shard=parse_shard(shard), ray_address=ray)
    if path is not None:
        out.print(f"wrote {path}")


@cli_errors
def stylize(
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder (D_Style).")],
    mixed: Annotated[Path | None, typer.Option(help="D_M (simreal generate mixed): its synthetic people take the "
                                               "style of the real people in the same image.")] = None,
    synthetic: Annotated[Path | None, typer.Option(help="D_S (simreal generate people): needs --style.")] = None,
    style: Annotated[Path | None, typer.Option(help="Folder of real photos with people (or an unlabeled dataset, "
                                               "e.g. simreal import video): each image takes the style of "
                                               "the people of style_photos (4) of them, drawn by its "
                                               "index.")] = None,
    person_segmenter: Annotated[str, typer.Option(help="Where the real people are: auto (the dataset's masks, "
                                                  "else its keypoints; GrabCut in HOG boxes for --style photos), "
                                                  "keypoints, grabcut, or package.module:function (RGB image -> "
                                                  "mask, non-zero on people).")] = "auto",
    method: Annotated[str | None, typer.Option(help="colour (default): masked colour transfer, offline, no weights; "
                                               "photowct: FastPhotoStyle's PhotoWCT, needs --vgg-weights "
                                               "(method).")] = None,
    vgg_weights: Annotated[Path | None, typer.Option(help="PhotoWCT weights: a safetensors file or a weights-only "
                                                     "torch state dict such as FastPhotoStyle's photo_wct.pth "
                                                     "(never downloaded; vgg_weights).")] = None,
    work_size: Annotated[int | None, typer.Option(min=0, help="Larger side during the transfer (default 600, the "
                                                  "paper's; 0: full resolution; work_size).")] = None,
    strength: Annotated[float | None, typer.Option(min=0, max=1, help="0: unchanged ... 1 (default): the full "
                                                   "transfer (strength).")] = None,
    seed: Seed = 0,
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    overwrite: Overwrite = False,
) -> None:
    """Write D_Style: the synthetic people of D_M (or D_S) recoloured after real people, labels copied byte
    for byte, no pixel outside the synthetic people changed."""
    from simreal.stylize.dataset import stylize_dataset
    from simreal.stylize.image import StylizeConfig
    from simreal.utils.config import resolve

    if (mixed is None) == (synthetic is None):
        raise SimrealError("give one of --mixed D_M or --synthetic D_S")
    if synthetic is not None and style is None:
        raise SimrealError("--synthetic has no real people to take the style from: give --style DIR")
    cfg = resolve(StylizeConfig(), config, with_shorthands(sets, {
        "method": method, "vgg_weights": vgg_weights, "work_size": work_size, "strength": strength}))
    if dry_run_printed(cfg, dry_run):
        return
    counts = stylize_dataset(mixed or synthetic, out_dir, cfg, style, person_segmenter, seed, overwrite,
                             log=out.print)
    out.print(f"wrote {out_dir} ({counts['stylized']} of {counts['images']} images stylized)")


@cli_errors
def show(
    dataset: Annotated[Path, typer.Argument(help="A keypoint dataset (simreal format).")],
    index: Annotated[int, typer.Option(min=0, help="Sample to draw (0-based).")] = 0,
    out_png: Annotated[Path | None, typer.Option("--out", help="PNG to write (default: show-INDEX.png).")] = None,
) -> None:
    """Draw one sample: skeletons, visible / occluded keypoints, masks, boxes and factors."""
    from simreal.data.show import show as run

    path = run(dataset, index, out_png or Path(f"show-{index:06d}.png"))
    out.print(f"wrote {path}")


@cli_errors
def export_coco(
    dataset: Annotated[Path, typer.Argument(help="A keypoint dataset.")],
    out_json: Annotated[Path, typer.Argument(help="COCO keypoints JSON to write (images stay in the dataset).")],
) -> None:
    """Write a keypoint dataset as COCO keypoints JSON (RLE masks; simreal-only fields under "simreal")."""
    from simreal.data.coco import export_coco as run

    counts = run(dataset, out_json)
    out.print(f"wrote {counts['images']} images and {counts['people']} people to {out_json} "
              f"(image root: {dataset})")


@cli_errors
def import_coco(
    coco_json: Annotated[Path, typer.Argument(help="COCO keypoints JSON (e.g. person_keypoints_val2017.json, or "
                                              "MPII in COCO style).")],
    images: Annotated[Path, typer.Argument(help="Folder the JSON's file_name entries are relative to.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output dataset folder.")],
    domain: Annotated[str | None, typer.Option(
        help="Domain to record: real, synthetic, mixed, ... (default: the domain of a file exported by simreal, "
             "else real).")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Write COCO keypoint annotations and their images as a simreal dataset (masks from segmentations)."""
    from simreal.data.coco import import_coco as run

    path = run(coco_json, images, out_dir, domain, overwrite)
    out.print(f"wrote {path}")


@cli_errors
def experiment_pose(
    out_dir: Annotated[Path, typer.Option("--out", help="Study folder (datasets, runs, report.md).")] = Path(
        "pose-out"),
    real: Annotated[Path | None, typer.Option(help="Real training keypoint dataset (all four or none: built-in, "
                                              "generated data).")] = None,
    synthetic: Annotated[Path | None, typer.Option(help="D_S (simreal generate people).")] = None,
    mixed: Annotated[Path | None, typer.Option(help="D_M (simreal generate mixed).")] = None,
    test: Annotated[Path | None, typer.Option(help="Labelled test keypoint dataset.")] = None,
    stylized: Annotated[Path | None, typer.Option(help="D_Style (simreal stylize) for the D_Style variants; "
                                                  "made from --mixed when not given.")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Training steps per variant (default 800).")] = None,
    variant: Annotated[list[str] | None, typer.Option(help="Variants to run (repeatable): M_R, M_S, M_R+S, "
                                                      "M_R+M, M_R+M+masks, M_R+D_Style, M_R+D_Style+masks "
                                                      "(default: all).")] = None,
    config: ConfigFile = None,
    sets: Sets = None,
    dry_run: DryRun = False,
    seed: Seed = 0,
    device: Device = "auto",
) -> None:
    """Train and evaluate M_R, M_S, M_R+S, M_R+M, M_R+M+masks, M_R+D_Style and M_R+D_Style+masks on the same
    test set (MPII AP table)."""
    from simreal.evaluate.keypoints import table_markdown
    from simreal.experiments.pose_study import PoseStudyConfig, run_pose_study
    from simreal.utils.config import resolve

    extra = [f"seed={seed}", f"train.device={device}"] + ([f"train.steps={steps}"] if steps else [])
    if variant:
        extra.append("variants=[" + ",".join(variant) + "]")
    cfg = resolve(PoseStudyConfig(), config, [*(sets or []), *extra])
    if dry_run_printed(cfg, dry_run):
        return
    summary = run_pose_study(out_dir, cfg, real, synthetic, mixed, test, log=out.print, stylized=stylized)
    out.print(table_markdown(summary["results"]), highlight=False, soft_wrap=True)
    out.print(f"report: {out_dir / 'report.md'}  ({summary['runtime_s'] / 60:.1f} min)")
