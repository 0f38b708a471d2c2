"""The settings table is the one source: the train command's flags, the defaults, the checks, the page's form and
evaluate's rebuilding of a saved model's settings all come from its rows; the presets are data it checks."""
import argparse
import ast
import pathlib

import pytest

from nnscratch import cli
from nnscratch.cli.evaluate import held_out
from nnscratch.presets import PRESETS, Preset
from nnscratch.presets.broken import BROKEN
from nnscratch.runs.settings import resolve, saved_settings
from nnscratch.runs.table import DEFAULTS, KINDS, SETTINGS, Setting, SettingsError, add_flags, form

# The train command's own options, which say where and how to train rather than what: no row of the table.
NOT_SETTINGS = {"help", "preset", "out", "resume", "force", "evaluate_train", "quiet", "import_modules"}


def train_parser():
    parser = cli.build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return commands.choices["train"]


def test_every_train_flag_is_a_row_of_the_table_and_every_row_a_flag():
    flags = {action.dest: action for action in train_parser()._actions}
    extra, missing = sorted(set(flags) - NOT_SETTINGS - set(SETTINGS)), sorted(set(SETTINGS) - set(flags))
    assert not extra and not missing, f"flags that are no setting: {extra}; settings without a flag: {missing}"
    for name, setting in SETTINGS.items():
        action = flags[name]
        assert action.option_strings == [setting.flag], (name, action.option_strings)
        assert action.default is None, f"{setting.flag} must leave {name} None when left out, so a preset stands"


def test_the_flags_help_is_the_rows_help_with_its_default():
    flags = {action.dest: action for action in train_parser()._actions}
    for name, setting in SETTINGS.items():
        shown = flags[name].help.replace("%%", "%")
        assert shown.startswith(setting.help), (name, shown)
        if setting.kind != "switch":
            default = ",".join(map(str, setting.default)) if isinstance(setting.default, tuple) else setting.default
            assert shown.endswith(f"(default: {default})"), (name, shown)


def test_a_switch_on_by_default_is_turned_off_by_its_no_flag():
    parser = argparse.ArgumentParser()
    add_flags(parser)
    assert parser.parse_args(["--no-shuffle"]).shuffle is False
    assert parser.parse_args(["--batch-norm"]).batch_norm is True
    left_out = parser.parse_args([])
    assert all(getattr(left_out, name) is None for name in SETTINGS)


def test_defaults_are_the_tables_defaults_and_each_keeps_its_own_rule():
    assert list(DEFAULTS) == list(SETTINGS)
    for name, setting in SETTINGS.items():
        assert DEFAULTS[name] == (list(setting.default) if isinstance(setting.default, tuple) else setting.default)
        assert setting.kind in KINDS, (name, setting.kind)
        assert setting.read(DEFAULTS[name]) == DEFAULTS[name], f"{name}'s default breaks its own rule"
    assert resolve({}) == {**DEFAULTS, "preset": None}


BAD = {"int": "many", "float": "often", "text": 5, "ints": "16,x", "floats": "0.9,x", "switch": "yes"}


@pytest.mark.parametrize("name", SETTINGS)
def test_each_row_refuses_a_bad_value_of_its_kind_in_one_line_naming_it(name):
    setting = SETTINGS[name]
    with pytest.raises(SettingsError) as raised:
        setting.read(BAD[setting.kind])
    message = str(raised.value)
    assert raised.value.setting == name and message.startswith(name) and "\n" not in message, message
    assert raised.value.as_flags().startswith(setting.flag.replace("--no-", "--")), raised.value.as_flags()


@pytest.mark.parametrize("name, value, message", [
    ("epochs", "1.5", "epochs expects a whole number, got '1.5'"),
    ("epochs", 0, "epochs must be at least 1, got 0"),
    ("seed", -1, "seed must be >= 0, got -1"),
    ("lr", "nan", "lr expects a finite number, got 'nan'"),
    ("lr", 0, "lr must be positive, got 0.0"),
    ("momentum", "1", "momentum must be in [0, 1), got 1.0"),
    ("batch_size", "many", "batch_size expects a number or 'full', got 'many'"),
    ("augment", 9, "augment must be 0 to 8 pixels (or 'affine' or 'elastic'), got 9"),
    ("augment", "wobble", "augment expects a number of pixels or 'affine' or 'elastic', got 'wobble'"),
    ("activation", "swish", "activation must be one of sigmoid, tanh, relu, leaky_relu, got 'swish'"),
    ("layers", "16,x", "layers expects sizes like 784,100,10, got '16,x'"),
    ("layers", "16", "layers needs at least two positive sizes, got [16]"),
    ("betas", "0.9", "betas expects two numbers in [0, 1), got [0.9]"),
    ("shuffle", "yes", "shuffle is on or off (true or false), got 'yes'"),
    ("hidden", None, "hidden expects a number, got None"),
])
def test_the_rows_rules_say_what_they_expected_and_what_came(name, value, message):
    with pytest.raises(SettingsError) as raised:
        SETTINGS[name].read(value)
    assert str(raised.value) == message


@pytest.mark.parametrize("name, text, value", [
    ("layers", "784,30,10", [784, 30, 10]), ("betas", "0.7, 0.9", [0.7, 0.9]), ("batch_size", "full", "full"),
    ("batch_size", "64", 64), ("augment", "affine", "affine"), ("lr", "1e-3", 0.001), ("epochs", 3.0, 3),
    ("patience", None, None), ("data", "digits.csv", "digits.csv"),
])
def test_the_rows_read_text_as_flags_give_it(name, text, value):
    read = SETTINGS[name].read(text)
    assert read == value and type(read) is type(value), (name, text, read)


def test_a_kind_the_table_does_not_know_has_no_reader():
    with pytest.raises(KeyError):
        Setting("colour", "colour", "red", "a colour").read("blue")


def test_the_form_offers_every_row_with_its_default_and_choices():
    rows = {row["name"]: row for row in form()}
    assert list(rows) == list(SETTINGS)
    assert rows["optimizer"]["choices"] == list(SETTINGS["optimizer"].choices)
    assert "adam" in rows["optimizer"]["choices"] and rows["lr"]["kind"] == "float"
    assert all(rows[name]["default"] == DEFAULTS[name] for name in SETTINGS)


def test_a_saved_models_settings_are_read_back_through_the_table():
    recorded = {"architecture": "cnn", "layers": None, "hidden": "64", "lr": "1e-3", "preset": "cnn",
                "a_setting_of_a_newer_version": 1, "validation_size": 500}
    settings = saved_settings(recorded, train_size=None, validation_size=0)
    assert settings["layers"] is None and settings["hidden"] == 64 and settings["lr"] == 0.001
    assert settings["validation_size"] == 0 and settings["train_size"] is None
    assert "a_setting_of_a_newer_version" not in settings and settings["epochs"] == DEFAULTS["epochs"]
    with pytest.raises(SettingsError, match="hidden must be at least 1, got 0"):
        saved_settings({**recorded, "hidden": 0})


@pytest.mark.parametrize("split, recorded, expected", [
    ("test", {"validation_size": 500}, 0),
    ("train", {"validation_size": 500}, 500), ("train", {"validation_size": 0}, 0), ("train", {}, 10000),
    ("validation", {"validation_size": 500}, 500), ("validation", {"validation_size": 0}, 10000),
])
def test_evaluate_holds_out_what_the_training_run_held_out(split, recorded, expected):
    assert held_out(recorded, split) == expected


def test_the_presets_are_data_the_table_checks():
    recipes = pathlib.Path(cli.__file__).parents[1] / "presets" / "recipes.py"
    tree = ast.parse(recipes.read_text())
    top_imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert {(node.module, node.level) for node in top_imports} == {("dataclasses", 0), ("broken", 1)}
    for name, preset in PRESETS.items():
        assert set(preset.settings) <= set(SETTINGS), (name, set(preset.settings) - set(SETTINGS))
        assert resolve(preset=name)["preset"] == name


def test_the_broken_presets_are_registered_beside_the_others():
    assert BROKEN, "presets/broken.py defines no preset"
    for entry in BROKEN:
        assert PRESETS[entry["name"]] == Preset(**entry)
