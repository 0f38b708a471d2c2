"""The README's custom-layer example, run as written, then checked like every built-in layer."""
import pathlib
import re

import numpy as np

import nnscratch as nn
from tests.gradcheck import check_layer_gradients

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def readme_example():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    [example] = [block for block in blocks if "register_layer" in block and "class " in block]
    return example


def test_the_readme_example_is_short_and_runs_as_written():
    example = readme_example()
    layer_definition = example[example.index("@nn.register_layer"):example.index("model =")].strip()
    assert len(layer_definition.splitlines()) < 20, layer_definition
    namespace = {}
    exec(compile(example, str(README), "exec"), namespace)
    model = namespace["model"]
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    assert model.forward(x).shape == (4, 10)
    assert "Swish" in nn.LAYERS


def test_the_readme_layer_passes_the_gradient_check_and_trains():
    namespace = {}
    exec(compile(readme_example(), str(README), "exec"), namespace)
    swish = namespace["Swish"]
    check_layer_gradients(swish(beta=1.5), np.random.default_rng(1).standard_normal((3, 4)))
    model = nn.Sequential(nn.Linear(2, 16, rng=0), swish(), nn.Linear(16, 2, rng=1))
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.Adam(model, lr=0.05), epochs=200, batch_size=4, rng=0)
    np.testing.assert_array_equal(model.predict(x), y)
    assert model.config()["layers"][1] == {"type": "Swish", "config": {"beta": 1.0}}
