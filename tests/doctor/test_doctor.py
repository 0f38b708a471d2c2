"""The doctor: each preset that goes wrong on purpose gets its diagnosis within its first epoch, the presets
that work get none, and the diagnoses reach the terminal (a warning under the epoch line) and the history file.

These train on the first few thousand MNIST training images, so they are marked ``network`` (they run where
MNIST is cached, or where the download is allowed).
"""
import dataclasses
import json

import numpy as np
import pytest

from nnscratch import cli
from nnscratch.doctor import CODES, Doctor
from nnscratch.presets import PRESETS
from nnscratch.presets.broken import BROKEN, UNSCALED_INPUTS
from nnscratch.runs import Run, resolve
from nnscratch.runs.guard import history_path
from nnscratch.training import DivergenceError, History

BROKEN_NAMES = {entry["name"] for entry in BROKEN}
# What each broken preset must be told, as its entry's "expected" says.
EXPECTED = {"broken-lr": "lr-too-large", "broken-lr-small": "lr-too-small", "broken-init": "saturated-units",
            "deep-sigmoid": "vanishing-gradients", "dead-relu": "dead-relu", "zero-init": "stuck-at-chance",
            "unscaled-inputs": "inputs-not-scaled"}


def first_epoch(settings, tmp_path, train_size=5000, scale=None, callbacks=()):
    """A Run of ``settings`` (over the defaults) for one epoch on the first ``train_size`` training images, with
    1,000 held out for validation; ``scale`` multiplies the training inputs first. Returns the run."""
    given = {**settings, "train_size": train_size, "validation_size": 1000, "epochs": 1}
    run = Run.start(resolve(given), str(tmp_path / "model.npz"))
    if scale is not None:
        x, y = run.data.train
        run.data = dataclasses.replace(run.data, train=(x * np.float32(scale), y))
    run.train(callbacks)
    return run


def codes(run):
    return [diagnosis["code"] for diagnosis in run.history.diagnoses]


def test_every_broken_preset_names_a_code_of_the_doctor_and_is_pure_data():
    for entry in [*BROKEN, UNSCALED_INPUTS]:
        assert set(entry) == {"name", "description", "reproduces", "expected", "measured", "settings"}, entry
        assert EXPECTED[entry["name"]] in CODES and EXPECTED[entry["name"]] in entry["expected"], entry
        json.dumps(entry)  # data only: no objects, no functions


@pytest.mark.network
@pytest.mark.parametrize("entry", BROKEN, ids=lambda entry: entry["name"])
def test_each_broken_preset_gets_its_diagnosis_within_its_first_epoch(entry, tmp_path):
    """Its own diagnosis comes first (a learning rate too large also kills ReLUs, and that is said after), each
    code at most once, and every diagnosis is one line with the step and epoch it was made at."""
    heard = []
    run = first_epoch(entry["settings"], tmp_path, train_size=8000 if entry["name"] == "zero-init" else 5000,
                      callbacks=[Doctor(on_diagnosis=heard.append)])
    said = codes(run)
    assert said and said[0] == EXPECTED[entry["name"]], run.history.diagnoses
    assert len(set(said)) == len(said), said
    assert heard == run.history.diagnoses == run.doctor.diagnoses
    for diagnosis in run.history.diagnoses:
        assert set(diagnosis) == {"step", "epoch", "code", "message"} and diagnosis["epoch"] == 1, diagnosis
        assert "\n" not in diagnosis["message"] and 0 <= diagnosis["step"] <= run.doctor.count, diagnosis


@pytest.mark.network
def test_unscaled_inputs_are_named_before_the_first_step(tmp_path):
    """The preset needs a setting the runs do not have yet (``input_scale``): here the inputs are scaled by hand,
    as the setting would."""
    settings = {name: value for name, value in UNSCALED_INPUTS["settings"].items() if name != "input_scale"}
    run = first_epoch(settings, tmp_path, scale=UNSCALED_INPUTS["settings"]["input_scale"])
    first = run.history.diagnoses[0]
    assert (first["code"], first["step"], first["epoch"]) == ("inputs-not-scaled", 0, 1), run.history.diagnoses
    assert "from 0 to 255" in first["message"], first


@pytest.mark.network
def test_a_run_that_diverges_says_what_the_doctor_saw_before(tmp_path):
    with pytest.raises(DivergenceError, match=r"training diverged.*the doctor saw: inputs not scaled"):
        first_epoch({}, tmp_path, scale=255.0)


HEALTHY = [name for name in PRESETS if name not in BROKEN_NAMES]
# Presets that run to the end here in a few seconds; the others train their first epoch on the first 5,000 images.
TO_THE_END = {"lines", "dense-16", "nielsen", "nielsen-eta10"}


@pytest.mark.network
@pytest.mark.parametrize("name", HEALTHY)
def test_no_healthy_preset_gets_a_diagnosis(name, tmp_path):
    """lines, dense-16, nielsen and nielsen-eta10 run to the end (a few seconds each). The others would take
    from half a minute (cnn-fast) to five (cnn-best) to the end, too long for a test, so they train their first
    epoch on the first 5,000 training images, with their own settings otherwise; full-batch, whose epoch is one
    step, its first 150 steps on 2,000 images. The full runs were checked once by hand (the report of issue 25)."""
    preset = PRESETS[name]
    if name in TO_THE_END:
        run = Run.start(resolve({}, name), str(tmp_path / "model.npz"))
        run.train()
    elif name == "full-batch":
        given = {"train_size": 2000, "validation_size": 500, "epochs": 150, "print_every": 50}
        run = Run.start(resolve(given, name), str(tmp_path / "model.npz"))
        run.train()
    else:
        run = first_epoch(preset.settings, tmp_path)
    assert run.history.diagnoses == [], run.history.diagnoses


@pytest.mark.network
def test_the_cli_prints_each_diagnosis_under_the_epoch_line_and_the_history_file_records_it(tmp_path, capsys):
    out = tmp_path / "dead.npz"
    status = cli.main(["train", "--optimizer", "adam", "--lr", "0.05", "--train-size", "3000",
                       "--validation-size", "500", "--epochs", "2", "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out.splitlines()
    assert status == 0, printed
    with open(history_path(str(out))) as file:
        diagnoses = json.load(file)["history"]["diagnoses"]
    assert [diagnosis["code"] for diagnosis in diagnoses] == ["dead-relu"], diagnoses
    diagnosis = diagnoses[0]
    warning = f"  Warning (epoch 1, step {diagnosis['step']}): {diagnosis['message']}"
    assert warning in printed, printed
    epoch_lines = [index for index, line in enumerate(printed) if line.startswith("Epoch ")]
    assert len(epoch_lines) == 2 and printed.index(warning) == epoch_lines[0] + 1, printed
    assert printed.count(warning) == 1  # once per cause: not again under epoch 2


def test_history_keeps_its_diagnoses_and_older_files_without_them_still_load():
    history = History([{"epoch": 1, "loss": 0.5}])
    history.diagnoses.append({"step": 3, "epoch": 1, "code": "lr-too-large", "message": "learning rate too large"})
    again = History.from_dict(json.loads(json.dumps(history.to_dict())))
    assert again.diagnoses == history.diagnoses and again.epochs == history.epochs
    older = History.from_dict({"epochs": [{"epoch": 1}], "best_epoch": 1})
    assert older.diagnoses == [] and older.best_epoch == 1


def test_a_resumed_run_is_not_told_again_what_its_history_says():
    """At most once per cause a run, across a resume: the doctor reads the codes already in the history."""
    import nnscratch as nn
    rng = np.random.default_rng(0)
    x, y = rng.random((256, 20), dtype=np.float32), rng.integers(0, 3, 256)

    def train(history):
        model = nn.Network([20, 16, 3], activation="relu", output=None, rng=0)
        doctor = Doctor()
        nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=1e-7), epochs=1, batch_size=2,
               callbacks=[doctor], rng=0, history=history)
        return doctor

    fresh = train(History())
    assert [diagnosis["code"] for diagnosis in fresh.diagnoses] == ["lr-too-small"], fresh.diagnoses
    told = History([{"epoch": 1}])
    told.diagnoses.append(dict(fresh.diagnoses[0]))
    assert train(told).diagnoses == [] and [diagnosis["code"] for diagnosis in told.diagnoses] == ["lr-too-small"]
