"""Real photographs of places without people, for the backgrounds of `simreal generate people`.

Run by `make backgrounds`; without make: ``.venv/bin/python scripts/backgrounds.py [OUT]`` (default
``data/backgrounds``). Needs ``apt-get`` (Debian's package archive; nothing else is contacted).

Six Debian packages are downloaded (``apt-get download`` of pinned versions, each checked by SHA-256; ~290 MB,
removed afterwards) and the hand-picked photographs below are cut out of them: desktop wallpapers that are
photographs of places (not the drawings, close-ups of flowers or skies they also hold), OpenCV's street and
building photos, Tux Paint's photo templates of a field, a pasture and a beach, and one street made
people-free as the per-pixel median of 80 frames of OpenCV's
pedestrian video ``vtest.avi`` (static camera, people keep walking). Each is resized to a short side of
720 px, run through the person filter (OpenCV's HOG people detector with its face cascade, the default of
``generate people``; a photo it flags is dropped and logged), and written as JPEG with ``backgrounds.json``:
per file its package, path, licence, the filter's verdict, and the ``horizon``.

``horizon``: where the photo's horizon (the camera's eye-level line, where the ground plane vanishes) lies,
as a fraction of the image height from the top; it may lie outside the picture (< 0 or > 1), or be None
where it cannot be told. Marked by hand on a 5 %-of-height grid; about ±3 % of the height. ``generate
people`` uses it to pitch the simulated camera so that the rendered ground's horizon lands on the photo's.

OUT appears only when complete (written beside it, then renamed); rerunning skips a finished one. The
photos' licences are their packages' own (recorded per file); simreal never redistributes them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from simreal.simulate.people.backgrounds import MANIFEST, opencv_people_detector

SHORT_SIDE = 720
PACKAGES = {  # Debian 12 (bookworm): version, SHA-256 of the .deb, licence of the photos used
    "mate-backgrounds": ("1.26.0-1", "7bf4c2209f34b4f61ba6d24c8b58c28b361e82e4b943aae6d42c030169af9e04",
                         "GPL-2+ (package)"),
    "lomiri-wallpapers-16.04": ("20.04.0-2", "a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab",
                                "CC-BY-SA-3.0"),
    "lxqt-themes": ("1.2.0-1", "d518df36b515b09d36cb00b12645dd8ce170bb82bb0966297741905ce3edc8e1", "CC-BY-SA-3.0"),
    "plasma-workspace-wallpapers": ("4:5.27.5-2",
                                    "32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b",
                                    "LGPL-3 / CC-BY-SA (package)"),
    "opencv-doc": ("4.6.0+dfsg-12", "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a",
                   "BSD-3-clause / Apache-2.0 (package)"),
    "tuxpaint-data": ("1:0.9.28-sdl2-1", "f5d0de8f9a70d2efc1241d19f26168cb8bf279f1b77abd3631e7a1a55c40e5e5",
                      "GPL-2+"),
}
MATE, LOMIRI, LXQT = "usr/share/backgrounds/mate/nature", "usr/share/backgrounds", "usr/share/lxqt/wallpapers"
PLASMA, CV = "usr/share/wallpapers/{}/contents/images/2560x1600.jpg", "usr/share/doc/opencv-doc/examples"
TUX = "usr/share/tuxpaint/templates"
PHOTOS = [  # name, package, path inside it, horizon (fraction of the height from the top), what it is
    ("dune-grass", "mate-backgrounds", f"{MATE}/Dune.jpg", 0.33, "dune grass, sea behind"),
    ("storm-road", "mate-backgrounds", f"{MATE}/Storm.jpg", 0.60, "road under a storm sky, motion-blurred"),
    ("aitzgorri-meadow", "lomiri-wallpapers-16.04", f"{LOMIRI}/aitzgorri_by_Aitzol_Berasategi.jpg", 0.45,
     "mountain meadow, autumn trees"),
    ("forest-stream", "lomiri-wallpapers-16.04", f"{LOMIRI}/life_by_Aitzol_Berasategi.jpg", 0.15,
     "rocky stream in a forest, seen from above"),
    ("picos-path", "lomiri-wallpapers-16.04", f"{LOMIRI}/picosdeeuropa_by_Aitzol_Berasategi.jpg", 0.55,
     "path across a mountain pasture"),
    ("summit-sunset", "lomiri-wallpapers-16.04", f"{LOMIRI}/sunset_by_Aitzol_Berasategi.jpg", 0.47,
     "grassy summit at sunset"),
    ("valendas-valley", "lxqt-themes", f"{LXQT}/Valendas.png", 0.72, "alpine valley under clouds"),
    ("after-the-rain", "lxqt-themes", f"{LXQT}/after-the-rain.jpg", 0.80, "hills under sunset clouds"),
    ("beam-hills", "lxqt-themes", f"{LXQT}/beam.png", 0.60, "wooded hills under a sun beam"),
    ("fog-field", "lxqt-themes", f"{LXQT}/fog.jpg", 0.62, "ploughed field, morning fog"),
    ("green-hills", "lxqt-themes", f"{LXQT}/this-is-not-windows.jpg", 0.72, "green hills and a field"),
    ("lake-jetty", "plasma-workspace-wallpapers", PLASMA.format("BytheWater"), 0.22, "wooden jetty by a lake"),
    ("foggy-jetty", "plasma-workspace-wallpapers", PLASMA.format("ColdRipple"), 0.50, "jetty in fog"),
    ("misty-lake", "plasma-workspace-wallpapers", PLASMA.format("DarkestHour"), 0.65, "lake at dawn"),
    ("lake-boats", "plasma-workspace-wallpapers", PLASMA.format("EveningGlow"), 0.38, "rowing boats on a shore"),
    ("forest-path", "plasma-workspace-wallpapers", PLASMA.format("Path"), 0.47, "path through a spruce forest"),
    ("lake-dusk", "plasma-workspace-wallpapers", PLASMA.format("summer_1am"), 0.65, "lake shore at dusk"),
    ("office-building", "opencv-doc", f"{CV}/data/building.jpg", 0.75, "office building and lawn"),
    ("leuven-street", "opencv-doc", f"{CV}/data/leuvenA.jpg", 0.60, "cobbled street between brick houses"),
    ("generator-wall", "opencv-doc", f"{CV}/text/scenetext04.jpg", 0.45, "wall, generator and palm trees"),
    ("road-barriers", "opencv-doc", f"{CV}/text/scenetext05.jpg", None, "road with barriers, seen from above"),
    ("corn-path", "tuxpaint-data", f"{TUX}/corn_maze.jpg", 0.68, "path through a maize field"),
    ("sheep-pasture", "tuxpaint-data", f"{TUX}/sheep.jpg", 0.44, "pasture with grazing sheep"),
    ("pebble-beach", "tuxpaint-data", f"{TUX}/rocks.jpg", 0.0, "pebble beach, seen from above"),
]
VIDEO = ("campus-median", "opencv-doc", f"{CV}/data/vtest.avi", None,
         "campus lawn and road: per-pixel median of every 10th frame of vtest.avi")


def fetch(package: str, folder: Path) -> Path:
    """The package's .deb, downloaded into ``folder`` and checked against its SHA-256."""
    version, sha, _ = PACKAGES[package]
    get = ["apt-get", "download", "-qq", f"{package}={version}"]
    if subprocess.run(get, cwd=folder, stderr=subprocess.DEVNULL).returncode != 0:  # no package lists yet?
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(get, cwd=folder, check=True)
    deb = next(folder.glob(f"{package}_*.deb"))
    if hashlib.sha256(deb.read_bytes()).hexdigest() != sha:
        sys.exit(f"error: {package} {version}: SHA-256 mismatch, refusing it")
    return deb


def unpack(deb: Path, members: list[str], folder: Path) -> None:
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    subprocess.run(["tar", "x", "--no-same-owner", "-C", str(folder), *(f"./{m}" for m in members)],
                   stdin=tar.stdout, check=True)
    tar.wait()


def video_median(path: Path, every: int = 10) -> Image.Image:
    import cv2

    cap, frames, i = cv2.VideoCapture(str(path)), [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % every == 0:
            frames.append(frame[:, :, ::-1])
        i += 1
    if not frames:
        sys.exit(f"error: {path.name}: no frame could be decoded")
    return Image.fromarray(np.median(np.stack(frames), axis=0).astype(np.uint8))


def shrink(img: Image.Image) -> Image.Image:
    """Short side ``SHORT_SIDE`` (never enlarged)."""
    s = SHORT_SIDE / min(img.size)
    return img if s >= 1 else img.resize((round(img.size[0] * s), round(img.size[1] * s)), Image.LANCZOS)


def main(out: Path) -> None:
    if (out / MANIFEST).is_file():
        print(f"{out}: already there")
        return
    if shutil.which("apt-get") is None:
        sys.exit("error: apt-get is needed to fetch the background photos (Debian packages)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        tmp = Path(tmp)
        debs, root, result = tmp / "debs", tmp / "root", tmp / out.name
        for d in (debs, root, result):
            d.mkdir()
        entries, rejected = [], []
        for package in PACKAGES:
            members = [p for _, pkg, p, _, _ in [*PHOTOS, VIDEO] if pkg == package]
            unpack(fetch(package, debs), members, root)
            print(f"{package} {PACKAGES[package][0]}: sha256 verified, {len(members)} files")
        for name, package, member, horizon, what in [*PHOTOS, VIDEO]:
            src = root / member
            img = video_median(src) if src.suffix == ".avi" else Image.open(src).convert("RGB")
            img = shrink(img)
            detections = opencv_people_detector(np.asarray(img))
            record = {"file": f"{name}.jpg", "what": what, "horizon": horizon, "package": package,
                      "version": PACKAGES[package][0], "path": f"/{member}", "licence": PACKAGES[package][2],
                      "size": list(img.size), "person_filter": "opencv", "people_found": len(detections)}
            if detections:
                rejected.append(record)
                print(f"rejected by the person filter: {name} ({len(detections)} detections)")
                continue
            img.save(result / record["file"], quality=92)
            entries.append(record)
        manifest = {"about": "simreal background photos (scripts/backgrounds.py); horizon: fraction of the "
                             "height from the top, marked by hand", "images": entries, "rejected": rejected}
        (result / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        result.rename(out)
    print(f"{out}: {len(entries)} photos ({len(rejected)} rejected by the person filter)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "data/backgrounds"))
