"""fit refuses what would silently train nothing: an optimizer built on another network, a negative number of
epochs; and a network without layers is refused where it is built or loaded."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch.serialization import ModelFileError, load_model, save_model


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 4)).astype(np.float32), rng.integers(0, 2, 40)


def test_an_optimizer_built_on_another_network_is_refused():
    model, other = nn.Network([4, 3, 2], rng=0), nn.Network([4, 3, 2], rng=1)
    with pytest.raises(ValueError, match=r"the Adam was built on another network's parameters, so it would train "
                                         r"nothing here: build it on this model, as Adam\(model, \.\.\.\)"):
        nn.fit(model, *data(), nn.SoftmaxCrossEntropy(), nn.Adam(other), epochs=1)


def test_the_optimizer_of_the_model_itself_trains_it():
    model = nn.Network([4, 3, 2], rng=0)
    before = model.state_dict()
    nn.fit(model, *data(), nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=1, rng=0)
    assert any(not np.array_equal(before[name], array) for name, array in model.state_dict().items())


@pytest.mark.parametrize("epochs", [-1, 1.5, True])
def test_epochs_must_be_a_whole_number_from_zero(epochs):
    model = nn.Network([4, 3, 2], rng=0)
    with pytest.raises(ValueError, match=r"epochs must be a whole number >= 0, got"):
        nn.fit(model, *data(), nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=epochs)


def test_zero_epochs_is_a_run_of_nothing():
    model = nn.Network([4, 3, 2], rng=0)
    assert len(nn.fit(model, *data(), nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=0)) == 0


def test_a_sequential_without_layers_is_refused():
    with pytest.raises(ValueError, match="Sequential needs at least one layer"):
        nn.Sequential()


def test_a_model_file_without_layers_is_refused_when_loaded(tmp_path):
    save_model(tmp_path / "m.npz", nn.Sequential(nn.ReLU()))
    import zipfile
    with zipfile.ZipFile(tmp_path / "m.npz") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    empty = np.lib.format
    import io
    buffer = io.BytesIO()
    empty.write_array(buffer, np.array('{"type": "Sequential", "config": {"layers": []}, "dtype": "float32"}'))
    members["architecture.npy"] = buffer.getvalue()
    with zipfile.ZipFile(tmp_path / "empty.npz", "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ModelFileError, match="needs a list of layers in its config, and at least one layer"):
        load_model(tmp_path / "empty.npz")
