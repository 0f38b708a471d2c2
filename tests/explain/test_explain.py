"""The explanation's views: exact splits of a logit, saliency, ablation, nearest digits, mistakes, probes."""
import numpy as np
import pytest

from nnscratch import Conv2D, Flatten, Linear, MaxPool2D, Network, ReLU, Sequential
from nnscratch.explain import Explainer, ExplainError, NearestIndex, untrained_twin
from nnscratch.explain.mistakes import Mistakes
from nnscratch.inspection import logit_gradient, logits


def digits(count=300, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (count, 784)).astype(np.float32), rng.integers(0, 10, count)


def relu_mlp(dtype=np.float32, bias_init="normal", output=None):
    return Network([784, 24, 16, 10], activation="relu", output=output, bias_init=bias_init, rng=1, dtype=dtype)


def explainer_for(model, **metadata):
    x, y = digits()
    return Explainer(model, metadata, train_set=(x, y), test_set=lambda: (x[:120], y[:120]))


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_contributions_and_bias_sum_to_the_logit(dtype, rtol):
    explainer = explainer_for(relu_mlp(dtype))
    x, _ = digits(3, seed=5)
    for pixels in x:
        answer = explainer.explain(pixels, versus="runner-up")
        total = sum(part["contribution"] for part in answer["contributions"]) + answer["bias"]
        logit = answer["logits"][answer["class"]]
        assert total == pytest.approx(logit, rel=rtol, abs=rtol), f"Σ contributions + bias = {total}, z = {logit}"
        versus = answer["versus"]
        difference = sum(part["contribution"] for part in versus["contributions"]) + versus["bias"]
        expected = answer["logits"][answer["class"]] - answer["logits"][versus["class"]]
        assert difference == pytest.approx(expected, rel=rtol, abs=rtol)
        assert versus["class"] == int(np.argsort(answer["probabilities"])[-2]), "the runner-up is second likeliest"


def test_contributions_are_activation_times_weight_ranked_by_size():
    model = relu_mlp(np.float64)
    explainer = explainer_for(model)
    pixels = digits(1, seed=6)[0][0]
    answer = explainer.explain(pixels, class_index=4)
    hidden = model.layers[3].forward(model.layers[2].forward(model.layers[1].forward(model.layers[0].forward(
        pixels[None].astype(np.float64)))))[0]
    W = model.layers[4].params["W"]
    for part in answer["contributions"]:
        assert part["activation"] == hidden[part["unit"]]
        assert part["weight"] == W[part["unit"], 4]
        assert part["contribution"] == pytest.approx(hidden[part["unit"]] * W[part["unit"], 4], rel=1e-15)
    sizes = [abs(part["contribution"]) for part in answer["contributions"]]
    assert sizes == sorted(sizes, reverse=True) and len(sizes) == 16
    assert answer["bias"] == model.layers[4].params["b"][4]


def test_saliency_is_the_logit_gradient_and_gradient_x_input_plus_biases_is_the_logit():
    model = relu_mlp(np.float64)
    explainer = explainer_for(model)
    pixels = digits(1, seed=7)[0][0].astype(np.float64)
    answer = explainer.explain(pixels, class_index=3)
    np.testing.assert_allclose(answer["saliency"], logit_gradient(model, pixels[None], 3)[0], rtol=1e-12)
    np.testing.assert_allclose(answer["gradient_x_input"], pixels * np.array(answer["saliency"]), rtol=1e-12)
    completeness = answer["completeness"]
    assert completeness["piecewise_linear"] is True
    assert completeness["sum"] == pytest.approx(answer["logits"][3], rel=1e-12), completeness
    assert abs(completeness["bias_terms"]) > 1e-3, "with biases, gradient × input alone is not the logit"


def test_completeness_holds_for_a_relu_cnn_and_is_not_claimed_for_sigmoid():
    rng = np.random.default_rng(2)
    cnn = Sequential(Conv2D(1, 3, 5, bias_init="normal", rng=rng), MaxPool2D(2), ReLU(), Flatten(),
                     Linear(3 * 12 * 12, 8, bias_init="normal", rng=rng), ReLU(), Linear(8, 10, rng=rng))
    cnn.astype(np.float64)
    answer = explainer_for(cnn, input_shape=[1, 28, 28]).explain(rng.uniform(0, 1, 784))
    assert answer["completeness"]["sum"] == pytest.approx(answer["completeness"]["logit"], rel=1e-10)
    sigmoid = Network([784, 12, 10], activation="sigmoid", output="sigmoid", rng=3)
    assert explainer_for(sigmoid).explain(digits(1)[0][0])["completeness"]["piecewise_linear"] is False


def test_logits_are_taken_before_a_final_softmax():
    model = relu_mlp(np.float64, output="softmax")
    answer = explainer_for(model).explain(digits(1)[0][0])
    x = np.array(answer["input"])[None]
    np.testing.assert_allclose(answer["logits"], logits(model, x)[0], rtol=1e-12)
    np.testing.assert_allclose(answer["probabilities"], model.predict_proba(x)[0], rtol=1e-12)


def test_silencing_a_unit_changes_the_logits_by_exactly_its_contribution():
    model = relu_mlp(np.float64)
    explainer = explainer_for(model)
    pixels = digits(1, seed=8)[0][0]
    answer = explainer.explain(pixels)
    W = model.layers[4].params["W"]
    for part in answer["contributions"][:3]:
        ablated = explainer.ablate(pixels, None, part["unit"], 0.0)
        assert ablated["change"][answer["class"]] == pytest.approx(-part["contribution"], rel=1e-12)
        np.testing.assert_allclose(ablated["change"], -part["activation"] * W[part["unit"]], rtol=1e-12, atol=1e-15)
        doubled = explainer.ablate(pixels, None, part["unit"], 2.0)
        assert doubled["change"][answer["class"]] == pytest.approx(part["contribution"], rel=1e-12)


def test_ablation_of_an_earlier_layer_and_test_accuracy_without_a_unit():
    model = relu_mlp(np.float64)
    explainer = explainer_for(model)
    x, y = digits()
    unchanged = explainer.ablate(x[0], "1", 0, 1.0)
    np.testing.assert_allclose(unchanged["change"], 0, atol=1e-12)
    seen = []
    result = explainer.accuracy_without(None, 5, 0.0, progress=lambda done, total: seen.append((done, total)))
    hidden = model.layers[3].forward(model.layers[2].forward(model.layers[1].forward(model.layers[0].forward(
        x[:120].astype(np.float64)))))
    hidden[:, 5] = 0
    expected = np.mean((hidden @ model.layers[4].params["W"] + model.layers[4].params["b"]).argmax(1) == y[:120])
    assert result["accuracy"] == expected and result["test_digits"] == 120
    assert seen[-1] == (120, 120)
    for bad_layer, bad_unit, message in (("4", 0, "layer must be one of the hidden layers"),
                                         (None, 16, "unit must be from 0 to 15")):
        with pytest.raises(ExplainError, match=message):
            explainer.ablate(x[0], bad_layer, bad_unit)


def test_nearest_index_matches_brute_force():
    rng = np.random.default_rng(4)
    points = rng.standard_normal((500, 20)).astype(np.float32)
    query = rng.standard_normal(20).astype(np.float32)
    nearest, distances = NearestIndex(points).query(query, 8)
    brute = np.linalg.norm(points.astype(np.float64) - query, axis=1)
    np.testing.assert_array_equal(nearest, np.argsort(brute, kind="stable")[:8])
    np.testing.assert_allclose(distances, np.sort(brute)[:8], rtol=1e-4)


def test_neighbours_in_pixel_and_hidden_space():
    explainer = explainer_for(relu_mlp())
    x, y = digits()
    answer = explainer.neighbours(x[17])
    assert answer["pixels"][0]["index"] == 17 and answer["pixels"][0]["distance"] == pytest.approx(0, abs=1e-2)
    assert answer["hidden"][0]["index"] == 17
    assert [len(answer[space]) for space in ("pixels", "hidden")] == [8, 8]
    assert answer["pixels"][3]["label"] == y[answer["pixels"][3]["index"]]


def test_mistakes_confusion_and_cells_most_confident_first():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4]])
    table = Mistakes(probabilities, np.array([0, 0, 0, 1, 1]))
    assert table.confusion.tolist() == [[1, 2], [1, 1]]
    members, confidence = table.cell(0, 1)
    assert members.tolist() == [1, 2] and confidence.tolist() == [0.8, 0.6]
    with pytest.raises(ValueError, match="true class must be from 0 to 1"):
        table.cell(2, 0)


def test_explainer_mistakes_match_the_model():
    model = relu_mlp()
    explainer = explainer_for(model)
    x, y = digits()
    predicted = model.predict(x[:120])
    assert explainer.mistakes()["confusion"][3][5] == int(np.sum((y[:120] == 3) & (predicted == 5)))
    cell = explainer.mistake_cell(int(y[0]), int(predicted[0]))
    assert 0 in [digit["index"] for digit in cell["digits"]]


def test_untrained_twin_has_the_same_architecture_and_new_weights():
    model = relu_mlp()
    twin = untrained_twin(model, seed=0)
    assert twin.config() == model.config()
    assert not np.allclose(twin.layers[0].params["W"], model.layers[0].params["W"])
    np.testing.assert_array_equal(untrained_twin(model, seed=0).layers[0].params["W"], twin.layers[0].params["W"])
    explainer = explainer_for(model)
    pixels = digits(1)[0][0]
    untrained, trained = explainer.untrained_saliency(pixels, 2), explainer.explain(pixels, 2)
    assert not np.allclose(untrained["saliency"], trained["saliency"])


def test_probes_and_activations():
    explainer = explainer_for(relu_mlp())
    blank = explainer.probe("blank")
    assert blank["input"] == [0.0] * 784 and len(blank["probabilities"]) == 10
    inverted = explainer.probe("inverted", np.zeros(784))
    assert inverted["input"] == [1.0] * 784
    with pytest.raises(ValueError, match="probe must be one of noise, blank, inverted"):
        explainer.probe("static")
    layers = explainer.activations(digits(1)[0][0])
    assert [(layer["name"], layer["shape"]) for layer in layers] == [("1", [24]), ("3", [16])]


def test_bad_networks_and_requests_are_refused():
    with pytest.raises(ExplainError, match="no hidden layer"):
        Explainer(Network([784, 10], output=None, rng=0))
    with pytest.raises(ExplainError, match="784 inputs"):
        Explainer(Network([100, 8, 10], output=None, rng=0))
    explainer = explainer_for(relu_mlp())
    with pytest.raises(ExplainError, match="class must be from 0 to 9, got 10"):
        explainer.explain(digits(1)[0][0], class_index=10)
    with pytest.raises(ExplainError, match="expected 784 pixel values, got 3"):
        explainer.explain([0.0, 1.0, 0.5])


def test_layers_are_numbered_as_a_learner_counts_them_not_by_the_sequentials_index():
    from nnscratch.explain.numbering import layer_titles
    cnn = Sequential(Conv2D(1, 4, 3, rng=0), MaxPool2D(2), ReLU(), Flatten(), Linear(676, 32, rng=0), ReLU(),
                     Linear(32, 10, rng=0))
    titles = layer_titles(cnn)
    assert titles == {"0": "layer 1 of 3: conv 3×3×4", "1": "layer 1 of 3: conv 3×3×4, after max-pool 2",
                      "2": "layer 1 of 3: conv 3×3×4, after max-pool 2 and ReLU",
                      "3": "layer 1 of 3: conv 3×3×4, after max-pool 2, ReLU and Flatten",
                      "4": "layer 2 of 3: dense 676→32", "5": "layer 2 of 3: dense 676→32, after ReLU",
                      "6": "layer 3 of 3: dense 32→10"}, titles
    explainer = explainer_for(cnn, input_shape=[1, 28, 28])
    x, _ = digits(1)
    shown = [(layer["name"], layer["title"]) for layer in explainer.activations(x[0])]
    assert shown[-1] == ("5", "layer 2 of 3: dense 676→32, after ReLU"), shown
    assert explainer.ablate(x[0], None, 3)["title"] == "layer 2 of 3: dense 676→32, after ReLU"
    assert explainer.explain(x[0])["hidden_layer"] == {"name": "5", "title": "layer 2 of 3: dense 676→32, after ReLU"}
    mlp = explainer_for(relu_mlp())
    assert [layer["title"] for layer in mlp.activations(x[0])] == [
        "layer 1 of 3: dense 784→24, after ReLU", "layer 2 of 3: dense 24→16, after ReLU"]
