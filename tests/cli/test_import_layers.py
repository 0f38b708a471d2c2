"""Models with a custom layer load on the command line once the module that registers it is imported."""
from nnscratch import Linear, Sequential, cli
from nnscratch.serialization import save_model

SWISH = '''
import numpy as np

import nnscratch as nn


@nn.register_layer
class CliSwish(nn.Layer):
    """y = x·σ(x)."""

    def forward(self, x):
        self.x, self.s = x, 0.5 * (1 + np.tanh(0.5 * x))
        return x * self.s

    def backward(self, grad_out):
        return grad_out * (self.s + self.x * self.s * (1 - self.s))
'''


def model_with_custom_layer(tmp_path):
    (tmp_path / "mylayers.py").write_text(SWISH)
    namespace = {}
    exec(compile(SWISH, "mylayers", "exec"), namespace)
    model = Sequential(Linear(784, 8, rng=0), namespace["CliSwish"](), Linear(8, 10, rng=1))
    save_model(tmp_path / "custom.npz", model, {"input_shape": [784]})
    from nnscratch.layers.base import LAYERS
    LAYERS.pop("CliSwish")  # as in a fresh process: only the --import below registers it
    return tmp_path / "custom.npz"


def test_a_custom_layer_loads_with_import(tmp_path, capsys):
    path = model_with_custom_layer(tmp_path)
    assert cli.main(["export", str(path), str(tmp_path / "custom.json")]) == 2
    assert "CliSwish" in capsys.readouterr().err
    assert cli.main(["export", str(path), str(tmp_path / "custom.json"), "--import",
                     str(tmp_path / "mylayers.py")]) == 0
    assert (tmp_path / "custom.json").exists()


def test_a_missing_or_broken_module_is_one_line(tmp_path, capsys):
    path = model_with_custom_layer(tmp_path)
    assert cli.main(["export", str(path), str(tmp_path / "c.json"), "--import", str(tmp_path / "nope.py")]) == 2
    assert capsys.readouterr().err.strip().endswith("no such file")
    (tmp_path / "broken.py").write_text("raise RuntimeError('oops')\n")
    assert cli.main(["export", str(path), str(tmp_path / "c.json"), "--import", str(tmp_path / "broken.py")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: oops" in err
