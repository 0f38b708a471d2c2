"""The Step view's checks and API: a learner's hand calculation of one number of a step is called right to the
precision typed, and a wrong one is traced to the slip it matches (``explain.step_check``); ``/api/step`` steps on
the paused run's next example, a drawn digit, or Mazur's and the worked example, and nothing typed changes a
model. The expected numbers are computed here by hand in NumPy (math.md's equations), not by the engine."""
import numpy as np
import pytest

from nnscratch.explain.step import take_step
from nnscratch.explain.step_check import check, parse_typed
from nnscratch.explain.step_examples import EXAMPLES
from nnscratch.explain.step_table import rows
from nnscratch.runs.run import random_streams
from tests.app.test_train_api import (
    SMALL,
    fake_digits,
    post,
    request,
    server,  # noqa: F401  (the fixture: a page server on fake digits)
    wait_for,
)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def worked_by_hand():
    """math.md's worked example, forward and backward, written out: x, z1, a1, z2, p, δ2, ∂L/∂A1, δ1."""
    x = np.array([1.0, 0.5])
    w1, b1 = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]), np.array([0.1, 0.0, -0.1])
    w2, b2 = np.array([[0.7, -0.8], [0.2, 0.3], [-0.5, 0.6]]), np.array([0.0, 0.1])
    z1 = x @ w1 + b1
    a1 = sigmoid(z1)
    z2 = a1 @ w2 + b2
    p = np.exp(z2) / np.exp(z2).sum()
    delta2 = p - np.array([1.0, 0.0])
    grad_a1 = delta2 @ w2.T
    return {"x": x, "w1": w1, "w2": w2, "z1": z1, "a1": a1, "z2": z2, "p": p, "delta2": delta2, "grad_a1": grad_a1,
            "delta1": grad_a1 * a1 * (1 - a1), "loss": -np.log(p[0])}


def example_step(name):
    example = EXAMPLES[name]()
    return take_step(example.model, example.x, example.target, example.loss, example.lr, example.frozen)


def row_of(step, section, symbol):
    return next(index for index, row in enumerate(rows(step)) if row.section == section and row.symbol == symbol)


@pytest.mark.parametrize("text, value, tolerance", [
    ("0.73", 0.73, 0.005), ("-1.5e-3", -0.0015, 0.00005), ("2", 2.0, 0.5), ("0,25", 0.25, 0.005),
    ("−0.1", -0.1, 0.05), (".5", 0.5, 0.05),
])
def test_a_typed_number_carries_its_precision(text, value, tolerance):
    got, allowed = parse_typed(text)
    assert got == pytest.approx(value) and allowed == pytest.approx(tolerance), (text, got, allowed)


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "e5", "--1"])
def test_what_is_not_a_number_is_refused_in_one_line(text):
    with pytest.raises(ValueError, match="expected a number"):
        parse_typed(text)


def test_a_right_value_is_right_to_the_precision_typed_and_only_to_it():
    step, hand = example_step("worked"), worked_by_hand()
    row = row_of(step, "forward", "A⁽¹⁾")
    assert check(step, row, [1], f"{hand['a1'][1]:.4f}")["right"]
    assert check(step, row, [1], f"{hand['a1'][1]:.9f}")["right"]
    off_by_one_digit = f"{hand['a1'][1] + 2e-4:.4f}"
    verdict = check(step, row, [1], off_by_one_digit)
    assert not verdict["right"] and verdict["code"] == "rounding", verdict


def test_a_delta_with_a_forgotten_sigma_prime_is_named_so():
    step, hand = example_step("worked"), worked_by_hand()
    row = row_of(step, "backward", "∂L/∂Z⁽¹⁾")
    assert check(step, row, [2], f"{hand['delta1'][2]:.6f}")["right"]
    verdict = check(step, row, [2], f"{hand['grad_a1'][2]:.6f}")
    assert not verdict["right"] and verdict["code"] == "forgot-derivative", verdict
    assert "δ⁽¹⁾" in verdict["message"] and "hidden unit 2" in verdict["message"] and "σ′(z)" in verdict["message"]


def test_a_weight_gradient_with_the_wrong_sign_or_a_forgotten_derivative_upstream():
    step, hand = example_step("worked"), worked_by_hand()
    row = row_of(step, "backward", "∂L/∂W⁽¹⁾")
    right = hand["x"][1] * hand["delta1"][2]
    assert check(step, row, [1, 2], f"{right:.7f}")["right"]
    assert check(step, row, [1, 2], f"{-right:.7f}")["code"] == "sign"
    forgot = check(step, row, [1, 2], f"{hand['x'][1] * hand['grad_a1'][2]:.7f}")
    assert forgot["code"] == "forgot-derivative", forgot
    output = row_of(step, "backward", "∂L/∂W⁽²⁾")
    assert check(step, output, [0, 1], f"{hand['a1'][0] * hand['delta2'][1]:.7f}")["right"]
    used_z = check(step, output, [0, 1], f"{hand['z1'][0] * hand['delta2'][1]:.7f}")
    assert used_z["code"] == "used-z-for-a", used_z


def test_forward_and_loss_slips_are_traced():
    step, hand = example_step("worked"), worked_by_hand()
    z1 = row_of(step, "forward", "Z⁽¹⁾")
    assert check(step, z1, [0], f"{(hand['x'] @ hand['w1'])[0]:.6f}")["code"] == "forgot-bias"
    a1 = row_of(step, "forward", "A⁽¹⁾")
    assert check(step, a1, [0], f"{hand['z1'][0]:.6f}")["code"] == "forgot-activation"
    loss = row_of(step, "loss", "L")
    assert check(step, loss, [], f"{hand['loss']:.8f}")["right"]
    assert check(step, loss, [], f"{hand['loss'] / np.log(10):.8f}")["code"] == "log10"
    gradient = row_of(step, "backward", "∂L/∂Z⁽²⁾")
    forgot_softmax = hand["z2"] - np.array([1.0, 0.0])
    assert check(step, gradient, [0], f"{forgot_softmax[0]:.6f}")["code"] == "forgot-softmax"


def test_mazurs_update_and_its_slips():
    step = example_step("mazur")
    after = row_of(step, "update", "W⁽²⁾ after")
    assert check(step, after, [0, 0], "0.35891648")["right"]          # Mazur's published w5 after one step
    before, gradient = 0.40, 0.082167041                                 # his w5 and ∂E/∂w5
    assert check(step, after, [0, 0], f"{before + 0.5 * gradient:.8f}")["code"] == "sign"
    assert check(step, after, [0, 0], f"{before - gradient:.8f}")["code"] == "forgot-lr"
    assert check(step, row_of(step, "loss", "L"), [], "0.298371109")["right"]   # his total error
    assert check(step, row_of(step, "loss", "L"), [], f"{2 * 0.298371109:.9f}")["code"] == "scale"
    nothing = check(step, after, [0, 0], "7")
    assert not nothing["right"] and nothing["code"] == "unknown"


def test_a_check_outside_the_table_is_refused():
    step = example_step("mazur")
    with pytest.raises(ValueError, match="row must be"):
        check(step, 999, [], "1")
    with pytest.raises(ValueError, match="not in it"):
        check(step, row_of(step, "forward", "Z⁽¹⁾"), [5], "1")


# ---- the API --------------------------------------------------------------------------------------------------

def test_the_examples_are_served_whole_and_checked(server):  # noqa: F811
    status, _, answer = request(server, "GET", "/api/step?example=mazur")
    assert status == 200, answer
    assert answer["loss"] == pytest.approx(0.298371109, abs=1e-9) and answer["whole"]
    after = next(row for row in answer["rows"] if row["symbol"] == "W⁽²⁾ after")
    assert len(after["cells"]) == 4 and after["function"] == "SGD.update"
    assert after["cells"][0] == {"entry": [0, 0], "value": pytest.approx(0.35891648, abs=1e-8)}
    status, verdict = post(server, "/api/step/check", {"step": answer["id"], "row": after["index"], "entry": [0, 0],
                                                       "value": "0.3589"})
    assert status == 200 and verdict["right"], verdict
    for query in ("", "?example=nope", "?example=mazur&example=worked", "?x=1"):
        status, _, refused = request(server, "GET", "/api/step" + query)
        assert status == 400 and "example=" in refused["error"], (query, refused)


@pytest.mark.parametrize("body, status, message", [
    ({"step": 999, "row": 0, "entry": [], "value": "1"}, 404, "not kept"),
    ({"step": "x", "row": 0, "entry": [], "value": "1"}, 400, "step must be a whole number"),
    ({"step": 1, "row": 0, "entry": [], "value": True}, 400, "value must be"),
    ({"step": 1, "row": 0, "entry": "0", "value": "1"}, 400, "entry must be a list"),
    ({"step": 1, "row": 2, "entry": [0], "value": "one"}, 400, "expected a number"),
    ({"step": 1, "row": 2, "entry": [0], "value": "1", "model": "x"}, 400, "unknown field"),
])
def test_bad_checks_are_refused_in_one_line(server, body, status, message):  # noqa: F811
    assert request(server, "GET", "/api/step?example=worked")[0] == 200
    got, answer = post(server, "/api/step/check", body)
    assert got == status and message in answer["error"], (got, answer)


def test_the_paused_run_steps_on_its_next_batchs_first_example_and_stays_as_it_was(server):  # noqa: F811
    assert post(server, "/api/step", {"source": "run"})[0] == 409         # no run: nothing to step on
    assert post(server, "/api/train", {**SMALL, "epochs": 200})[0] == 202
    wait_for(server, lambda answer: answer["step"] >= 3, what="three batches")
    assert post(server, "/api/train/pause")[0] == 202
    paused = wait_for(server, lambda answer: answer["state"] == "paused", what="pausing")
    status, answer = post(server, "/api/step", {"source": "run", "path": {"input": 300, "hidden": 5, "output": 7}})
    assert status == 200, answer
    # the batch fit trains next: its rows of this epoch's permutation, drawn here from the run's own seed
    x_train, y_train = fake_digits(SMALL).train
    epoch, position = divmod(paused["step"] * SMALL["batch_size"], len(x_train))
    shuffle = random_streams(SMALL["seed"])["shuffle"]
    for _ in range(epoch + 1):
        order = shuffle.permutation(len(x_train))
    index = int(order[position])
    assert answer["input"] == pytest.approx(x_train[index].astype(np.float64).tolist()), "not the next example"
    assert f"training image {index}" in answer["note"] and f"label {int(y_train[index])}" in answer["note"]
    assert answer["path"]["input"] == 300 and answer["path"]["hidden"] == 5 and answer["path"]["output"] == 7
    weight = next(row for row in answer["rows"] if row["symbol"] == "∂L/∂W⁽¹⁾")
    assert weight["path_entry"] == [300, 5] and len(weight["cells"]) == 1
    z1 = next(row for row in answer["rows"] if row["symbol"] == "Z⁽¹⁾" and row["section"] == "forward")
    assert z1["cells"][0]["entry"] == [5]

    model = server.training.paused_example().model
    before = {name: value.copy() for name, value in model.state_dict().items()}
    value = weight["cells"][0]["value"]
    for typed in (f"{value:.12g}", f"{-value:.12g}" if value else "1", "123"):
        assert post(server, "/api/step/check", {"step": answer["id"], "row": weight["index"], "entry": [300, 5],
                                                "value": typed})[0] == 200
    after = server.training.paused_example().model.state_dict()
    assert all(np.array_equal(before[name], after[name]) for name in before), "a check changed the run's model"
    assert post(server, "/api/train/resume")[0] == 202
    wait_for(server, lambda answer: answer["state"] == "running", what="resuming")
    assert post(server, "/api/step", {"source": "run"})[0] == 409         # running: pause first
    assert post(server, "/api/train/stop")[0] == 202
    wait_for(server, lambda answer: answer["state"] == "stopped", what="stopping")


def test_a_drawn_digit_is_stepped_on_with_its_label(server):  # noqa: F811
    assert post(server, "/api/train", {**SMALL, "epochs": 200})[0] == 202
    assert post(server, "/api/train/pause")[0] == 202
    wait_for(server, lambda answer: answer["state"] == "paused", what="pausing")
    pixels = [0.0] * 784
    for row in range(4, 24):
        pixels[row * 28 + 14] = 1.0
    status, answer = post(server, "/api/step", {"source": "run", "pixels": pixels, "label": 1})
    assert status == 200 and answer["input"] == pixels and "your drawing, with target class 1" in answer["note"]
    for bad, message in (({"pixels": [0.5] * 10}, "784 numbers"), ({"pixels": [2.0] * 784}, "from 0 to 1"),
                         ({"pixels": pixels, "label": 10}, "label must be"), ({"source": "mine"}, "source must"),
                         ({"path": {"input": 784}}, "path.input"), ({"path": {"unit": 1}}, "path holds")):
        status, refused = post(server, "/api/step", {"source": "run", **bad})
        assert status == 400 and message in refused["error"], (bad, refused)
    assert post(server, "/api/train/stop")[0] == 202
    wait_for(server, lambda answer: answer["state"] == "stopped", what="stopping")
