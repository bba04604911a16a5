"""Run directories, checkpoints, configs, seeding, image I/O and progress bars."""
