"""The exercises: ``start`` writes files that check as not implemented, the model answers and written-out
solutions pass, a wrong file exits 1 with the array and the cause, an unreadable one exits 2, and lockstep on
MNIST finds a mistake that random inputs do not show."""
import json

import pytest

from nnscratch import cli
from nnscratch.cli import exercises as command
from nnscratch.exercises import TRACK, check

ENGINE_NAMES = {"Network": "nn.Network"}


@pytest.fixture
def nnscratch_main():
    """``main(argv)`` of the command line."""
    return cli.main


@pytest.fixture(scope="module")
def mnist_available():
    from nnscratch.datasets import DataError, load_mnist
    try:
        load_mnist(download=False)
    except (DataError, OSError) as error:
        pytest.skip(f"lockstep and training need MNIST, which is not cached here ({str(error).splitlines()[0]})")


def run(main, capsys, *argv):
    status = main(["exercises", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_list_names_every_exercise_with_its_math_and_time(nnscratch_main, capsys):
    status, out, _ = run(nnscratch_main, capsys)
    assert status == 0
    for exercise in TRACK:
        assert exercise.name in out and f"about {exercise.minutes} minutes" in out and exercise.math in out
    assert out.count("Part ") == 4


@pytest.mark.parametrize("exercise", TRACK, ids=lambda exercise: exercise.name)
def test_an_unfilled_file_exits_1_with_not_implemented_and_no_traceback(exercise, nnscratch_main, capsys, tmp_path):
    status, out, _ = run(nnscratch_main, capsys, "start", exercise.name, str(tmp_path))
    path = tmp_path / exercise.filename
    assert status == 0 and path.exists() and str(path) in out
    assert "class My" in path.read_text() and f"(nn.{exercise.reference})" in path.read_text()
    status, out, err = run(nnscratch_main, capsys, "check", str(path), "--json")
    assert status == 1, out + err
    assert "Traceback" not in out + err
    document = json.loads(out)
    assert document["passed"] is False
    (result,) = document["classes"]
    assert result["reference"] == exercise.reference and result["accuracy"] is None
    assert "not-implemented" in {item["diagnosis"] for item in result["arrays"]}
    status, out, err = run(nnscratch_main, capsys, "check", str(path), "--steps", "0")
    assert status == 1 and "not-implemented" in out and "NotImplementedError" in out and "Traceback" not in err


def test_start_never_replaces_a_file(nnscratch_main, capsys, tmp_path):
    path = tmp_path / "my_relu.py"
    path.write_text("my own work\n")
    status, _, err = run(nnscratch_main, capsys, "start", "relu", str(tmp_path))
    assert status == 2 and "exists already" in err and len(err.strip().splitlines()) == 1
    assert path.read_text() == "my own work\n"
    status, _, err = run(nnscratch_main, capsys, "start", "no-such-exercise", str(tmp_path))
    assert status == 2 and "relu" in err


def test_a_syntax_error_is_shown_with_its_line_and_exits_2(nnscratch_main, capsys, tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import nnscratch as nn\n\n\nclass MyReLU(nn.ReLU):\n    def forward(self, x)\n        return x\n")
    status, out, err = run(nnscratch_main, capsys, "check", str(path))
    assert status == 2 and out == ""
    assert f'File "{path}", line 5' in err and "SyntaxError" in err and "def forward(self, x)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("text, message", [(None, "cannot read"), ("x = 1\n", "defines no class"),
                                           ("import nnscratch as nn\nraise ValueError('top')\n", "line 2: ValueError")])
def test_other_unreadable_files_exit_2_in_one_line(text, message, nnscratch_main, capsys, tmp_path):
    path = tmp_path / "mine.py"
    if text is not None:
        path.write_text(text)
    status, _, err = run(nnscratch_main, capsys, "check", str(path))
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err


WRONG_RELU = """import nnscratch as nn


class MyReLU(nn.ReLU):
    def forward(self, x):
        self.active = x > 0
        return x * self.active

    def backward(self, grad_out):
        return grad_out * 1.0
"""


def test_a_wrong_file_names_its_array_and_cause_in_json(nnscratch_main, capsys, tmp_path):
    path = tmp_path / "my_relu.py"
    path.write_text(WRONG_RELU)
    status, out, _ = run(nnscratch_main, capsys, "check", str(path), "--json")
    assert status == 1
    document = json.loads(out)
    (result,) = document["classes"]
    assert {"class", "reference", "arrays", "lockstep", "accuracy"} <= set(result)
    assert result["class"] == "MyReLU" and result["reference"] == "ReLU"
    arrays = {item["array"]: item for item in result["arrays"]}
    assert arrays["output"]["ok"] and not arrays["dx"]["ok"]
    wrong = arrays["dx"]
    assert wrong["diagnosis"] == "missing-mask" and wrong["hint"] and wrong["relative_error"] > 1e-6
    assert wrong["expected"] == 0.0 and isinstance(wrong["got"], float) and len(wrong["worst_index"]) == 2
    assert result["lockstep"] == {"skipped": "fix the arrays above first"}


SOLUTIONS = {
    "sigmoid": """
class MySigmoid(nn.Sigmoid):
    def forward(self, x):
        self.y = 0.5 * (1.0 + np.tanh(0.5 * x))
        return self.y

    def backward(self, grad_out):
        return grad_out * self.y * (1.0 - self.y)
""",
    "linear": """
class MyLinear(nn.Linear):
    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad_out):
        self.grads["W"] = self.x.T @ grad_out
        self.grads["b"] = grad_out.sum(axis=0)
        return grad_out @ self.params["W"].T
""",
    "softmax-cross-entropy": """
class MySoftmaxCrossEntropy(nn.SoftmaxCrossEntropy):
    def __call__(self, output, target):
        n = len(output)
        shifted = output - output.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(shifted).sum(axis=1))
        loss = float(np.mean(log_sum - shifted[np.arange(n), target]))
        p = np.exp(shifted - log_sum[:, None])
        p[np.arange(n), target] -= 1.0
        return loss, p / n
""",
    "two-layer": """
class MyTwoLayerNetwork(nn.Network):
    def forward(self, x):
        first, _, second = self.layers
        self.x = x
        self.a1 = 1.0 / (1.0 + np.exp(-(x @ first.params["W"] + first.params["b"])))
        return self.a1 @ second.params["W"] + second.params["b"]

    def backward(self, grad_out):
        first, _, second = self.layers
        second.grads["W"] = self.a1.T @ grad_out
        second.grads["b"] = grad_out.sum(axis=0)
        delta = (grad_out @ second.params["W"].T) * self.a1 * (1.0 - self.a1)
        first.grads["W"] = self.x.T @ delta
        first.grads["b"] = delta.sum(axis=0)
        return delta @ first.params["W"].T
""",
    "sgd": """
class MySGD(nn.SGD):
    def update(self, name, param, grad):
        velocity = self.buffer(name, "velocity", param)
        velocity *= self.momentum
        velocity += grad
        param -= self.lr * velocity
""",
    "adam": """
class MyAdam(nn.Adam):
    def update(self, name, param, grad):
        m, v = self.buffer(name, "m", param), self.buffer(name, "v", param)
        m[...] = self.beta1 * m + (1 - self.beta1) * grad
        v[...] = self.beta2 * v + (1 - self.beta2) * grad * grad
        m_hat, v_hat = m / (1 - self.beta1 ** self.t), v / (1 - self.beta2 ** self.t)
        param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
""",
    "max-pooling": """
class MyMaxPool2D(nn.MaxPool2D):
    def forward(self, x):
        windows = unfold(x, self.kernel_size, self.stride)
        flat = windows.reshape(windows.shape[:4] + (-1,))
        self.where = flat.argmax(axis=-1)
        self.shape = x.shape
        return flat.max(axis=-1)

    def backward(self, grad_out):
        kh, kw = self.kernel_size
        mask = np.arange(kh * kw) == self.where[..., None]
        windows = (mask * grad_out[..., None]).reshape(grad_out.shape + (kh, kw))
        return fold(windows, self.shape, self.stride)
""",
    "dropout": """
class MyDropout(nn.Dropout):
    def forward(self, x):
        if not self.training or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self.mask = keep / x.dtype.type(1 - self.p)
        return x * self.mask

    def backward(self, grad_out):
        return grad_out if self.mask is None else grad_out * self.mask
""",
}
HEADER = "import numpy as np\n\nimport nnscratch as nn\nfrom nnscratch.layers.windows import fold, unfold\n\n"


@pytest.mark.parametrize("exercise", TRACK, ids=lambda exercise: exercise.name)
def test_the_model_answer_and_a_written_solution_pass(exercise, nnscratch_main, capsys, tmp_path, mnist_available):
    answer = tmp_path / "answer.py"
    answer.write_text(f"{HEADER}\nclass MyAnswer(nn.{exercise.reference}):\n    \"\"\"The engine's own.\"\"\"\n"
                      + SOLUTIONS.get(exercise.name, ""))
    status, out, err = run(nnscratch_main, capsys, "check", str(answer), "--steps", "20", "--seconds", "0",
                           "--json")
    document = json.loads(out)
    assert status == 0 and document["passed"], out + err
    assert len(document["classes"]) == (2 if exercise.name in SOLUTIONS else 1)
    for result in document["classes"]:
        assert result["lockstep"]["passed"] and result["lockstep"]["steps"] == 20, result["lockstep"]


TIES_TO_ALL = HEADER + """
class MyMaxPool2D(nn.MaxPool2D):
    def forward(self, x):
        windows = unfold(x, self.kernel_size, self.stride)
        y = windows.max(axis=(-2, -1))
        self.mask = windows == y[..., None, None]          # every tied maximum, not the first
        self.shape = x.shape
        return y

    def backward(self, grad_out):
        return fold(self.mask * grad_out[..., None, None], self.shape, self.stride)
"""


def test_lockstep_finds_what_random_inputs_miss(nnscratch_main, capsys, tmp_path, mnist_available):
    path = tmp_path / "ties.py"
    path.write_text(TIES_TO_ALL)
    status, out, _ = run(nnscratch_main, capsys, "check", str(path), "--steps", "20", "--json")
    assert status == 1
    (result,) = json.loads(out)["classes"]
    assert all(item["ok"] for item in result["arrays"]), "random inputs have no ties: the unit check passes"
    lockstep = result["lockstep"]
    assert lockstep["passed"] is False and lockstep["step"] == 0 and lockstep["array"] == "layer 2 (MyMaxPool2D) dx"
    status, out, _ = run(nnscratch_main, capsys, "check", str(path), "--steps", "20")
    assert "parted at step 0, layer 2 (MyMaxPool2D) dx" in out


def test_from_python_check_prints_and_trains(capsys, mnist_available):
    import nnscratch as nn

    class MyReLU(nn.ReLU):
        pass

    result = check(MyReLU, steps=5, train_seconds=2, train_size=2000, test_size=1000)
    out = capsys.readouterr().out
    assert result.passed and 0.5 < result.classes[0]["accuracy"] <= 1.0
    assert "Your ReLU: " in out and "on the test set (1,000 digits)" in out
    with pytest.raises(TypeError, match="subclass an engine class"):
        check(int)


def test_the_command_trains_when_all_is_right(nnscratch_main, capsys, tmp_path, mnist_available):
    path = tmp_path / "mine.py"
    path.write_text(HEADER + "\nclass MyLinear(nn.Linear):\n    pass\n\n\nclass MyReLU(nn.ReLU):\n    pass\n")
    status, out, _ = run(nnscratch_main, capsys, "check", str(path), "--steps", "5", "--seconds", "1")
    assert status == 0 and "Your Linear and ReLU: " in out and "on the test set (10,000 digits)" in out


def test_the_command_module_offers_add_parser():
    assert callable(command.add_parser) and callable(command.run)
