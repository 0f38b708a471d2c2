"""Presets that go wrong on purpose, so that a learner can see each of the doctor's diagnoses.

Pure data: each entry has the fields of ``Preset`` (name, description, reproduces, expected, measured, settings);
``recipes`` turns them into presets beside the others.
"""

BROKEN = []
