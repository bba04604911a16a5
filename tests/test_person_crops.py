"""Person crops from unlabeled frames (the detector replaced by known boxes) and the crop geometry."""

from __future__ import annotations

import numpy as np
import pytest

from simreal.data.format import ImageSpec, Provenance
from simreal.data.importers import person_crops
from simreal.data.reader import SimrealDataset
from simreal.data.writer import DatasetWriter
from simreal.utils.errors import SimrealError


def test_a_box_grows_to_the_output_aspect_about_its_centre_and_zero_fills_outside():
    image = np.full((100, 100, 3), 200, np.uint8)
    crop, box = person_crops.crop_person(image, [40, 20, 20, 40], (8, 4), margin=0.0)
    assert box == [40, 20, 20, 40] and crop.shape == (8, 4, 3) and (crop == 200).all()  # already 1:2
    crop, box = person_crops.crop_person(image, [80, 10, 40, 40], (8, 4), margin=0.25)  # wide box, at the edge
    assert box == [70, -30, 60, 120]  # height max(40, 40·2) · 1.5 = 120, width 60, same centre (100, 30)
    # x 70–130 and y −30–90 of a 100×100 image: the right half and the top quarter are black
    assert crop[:, -1].max() == 0 and crop[0].max() == 0 and crop[-1, 0].min() == 200


def _frames(root, n=3):
    with DatasetWriter(root, name="f", task="images", domain="real", image=ImageSpec("RGB", 120, 160),
                       label_schema={}, provenance=Provenance("test", {}, 0)) as w:
        for i in range(n):
            w.add(np.full((120, 160, 3), 30 * i, np.uint8), {"frame": i})
    return root


def test_frames_go_through_the_detector_and_small_people_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(person_crops, "hog_people", lambda image, min_score: [[10, 10, 30, 70], [100, 50, 10, 20]])
    counts = person_crops.import_person_crops(_frames(tmp_path / "f"), tmp_path / "c", min_height=64,
                                              show_progress=False)
    assert counts == {"images": 3, "people": 6, "too small": 3, "written": 3}
    ds = SimrealDataset(tmp_path / "c")
    assert [ds.record(i)["source_index"] for i in range(3)] == [0, 1, 2] and ds.manifest["domain"] == "real"


def test_a_dataset_of_another_task_or_without_people_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(person_crops, "hog_people", lambda image, min_score: [])
    with pytest.raises(SimrealError, match="no person of at least 64 px in 3 images"):
        person_crops.import_person_crops(_frames(tmp_path / "f"), tmp_path / "c", show_progress=False)
    from simreal.simulate.write import generate_digits

    digits = generate_digits(tmp_path / "d", 3, show_progress=False)
    with pytest.raises(SimrealError, match="not task 'digits'"):
        person_crops.import_person_crops(digits, tmp_path / "c2", show_progress=False)
