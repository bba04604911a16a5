"""The ``simreal`` command. Its commands live in the modules of this package, grouped by topic; each parses
and validates options and calls one library function. They are registered here, in one table, and nowhere
else: a command module imports :mod:`simreal.cli.common` and the library, never this module.
"""

from __future__ import annotations

import typer

from simreal.cli import data, hands, people, teach, train, turing

app = typer.Typer(help="Train neural networks on synthetic images so that they work on real images.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

#: the command groups: name -> help
GROUPS = {
    "generate": "Simulators: write synthetic datasets.",
    "import": "Importers: write real data you have as simreal datasets.",
    "export": "Exporters: write simreal datasets in other formats.",
    "refine": "SimGAN: train a refiner, and refine datasets with it.",
    "experiment": "Studies that compare several settings and write a report.",
    "turing": "Visual Turing test: can people tell your synthetic images from real ones?",
}

#: every command: (group or None for a top-level command, name, function)
COMMANDS = [
    (None, "info", data.info),
    (None, "show", people.show),
    (None, "stylize", people.stylize),
    (None, "train", train.train),
    (None, "evaluate", train.evaluate),
    (None, "demo", train.demo),
    ("generate", "digits", data.generate_digits),
    ("generate", "eyes", data.generate_eyes),
    ("generate", "people", people.generate_people),
    ("generate", "mixed", people.generate_mixed),
    ("generate", "hands", hands.generate_hands),
    ("import", "uci-digits", data.import_uci),
    ("import", "mnist", data.import_mnist),
    ("import", "face-video", data.import_face_video),
    ("import", "video", data.import_video),
    ("import", "person-crops", data.import_person_crops),
    ("import", "unityeyes", data.import_unityeyes),
    ("import", "mpiigaze", data.import_mpiigaze),
    ("import", "coco", people.import_coco),
    ("import", "nyu-hands", hands.import_nyu_hands),
    ("export", "coco", people.export_coco),
    ("refine", "train", train.refine_train),
    ("refine", "apply", train.refine_apply),
    ("experiment", "refine-digits", train.experiment_refine_digits),
    ("experiment", "real-eyes", train.experiment_real_eyes),
    ("experiment", "gaze", train.experiment_gaze),
    ("experiment", "pose", people.experiment_pose),
    ("experiment", "teacher", teach.experiment_teacher),
    ("experiment", "hands", hands.experiment_hands),
    ("turing", "serve", turing.serve),
    ("turing", "report", turing.report),
    ("turing", "observer", turing.observer),
]


def _register() -> None:
    groups = {}
    for name, help_text in GROUPS.items():
        groups[name] = typer.Typer(help=help_text, no_args_is_help=True)
        app.add_typer(groups[name], name=name)
    for group, name, fn in COMMANDS:
        (app if group is None else groups[group]).command(name)(fn)


_register()


def main() -> None:
    app()
