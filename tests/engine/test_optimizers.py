"""Optimizers against numbers worked out by hand; schedules against their formulas at chosen epochs."""
import numpy as np
import pytest

import nnscratch as nn


def one_weight(value=1.0):
    """A model with a single trainable number, so each step can be followed by hand."""
    layer = nn.Linear(1, 1, dtype=np.float64)
    layer.params = {"w": np.array([value])}
    layer.grads = {"w": np.zeros(1)}
    return layer


def run(optimizer_class, gradients, **options):
    model = one_weight()
    optimizer = optimizer_class(model, **options)
    values = []
    for gradient in gradients:
        model.grads["w"][...] = gradient
        optimizer.step()
        values.append(float(model.params["w"][0]))
    return values


def test_plain_sgd():
    # θ ← θ - 0.1·0.5 three times
    assert run(nn.SGD, [0.5] * 3, lr=0.1) == pytest.approx([0.95, 0.90, 0.85])


def test_sgd_momentum():
    # v = 0.5, 0.95, 1.355; θ = 1 - 0.05 = 0.95, 0.95 - 0.095 = 0.855, 0.855 - 0.1355 = 0.7195
    assert run(nn.SGD, [0.5] * 3, lr=0.1, momentum=0.9) == pytest.approx([0.95, 0.855, 0.7195])


def test_sgd_nesterov():
    # v = 0.5: θ = 1 - 0.1·(0.5 + 0.45) = 0.905;  v = 0.95: θ = 0.905 - 0.1·(0.5 + 0.855) = 0.7695
    assert run(nn.SGD, [0.5] * 2, lr=0.1, momentum=0.9, nesterov=True) == pytest.approx([0.905, 0.7695])


def test_sgd_l2_weight_decay():
    # g' = 0.5 + 0.1·1 = 0.6: θ = 0.94;  g' = 0.5 + 0.1·0.94 = 0.594: θ = 0.94 - 0.0594 = 0.8806
    assert run(nn.SGD, [0.5] * 2, lr=0.1, weight_decay=0.1) == pytest.approx([0.94, 0.8806])


def test_adam():
    # step 1: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25, θ = 1 - 0.1·0.5/0.5 = 0.9
    # step 2 (g = -0.25): m = 0.045 - 0.025 = 0.02, m̂ = 0.02/0.19 = 0.1052632
    #   v = 0.00024975 + 0.0000625 = 0.00031225, v̂ = 0.00031225/0.001999 = 0.1562031, √v̂ = 0.3952254
    #   θ = 0.9 - 0.1·0.1052632/0.3952254 = 0.8733663
    assert run(nn.Adam, [0.5, -0.25], lr=0.1) == pytest.approx([0.9, 0.8733663], abs=1e-7)


def test_adam_with_short_memories():
    # betas (0.7, 0.9). step 1: m = 0.15, m̂ = 0.5, v = 0.025, v̂ = 0.25: θ = 1 - 0.1·0.5/0.5 = 0.9
    # step 2 (g = -0.25): m = 0.105 - 0.075 = 0.03, m̂ = 0.03/0.51 = 0.0588235
    #   v = 0.0225 + 0.00625 = 0.02875, v̂ = 0.02875/0.19 = 0.1513158, √v̂ = 0.3889933
    #   θ = 0.9 - 0.1·0.0588235/0.3889933 = 0.8848780
    assert run(nn.Adam, [0.5, -0.25], lr=0.1, betas=(0.7, 0.9)) == pytest.approx([0.9, 0.8848780], abs=1e-7)


def test_adam_with_betas_0_7_and_0_9_follows_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    model = one_weight()
    optimizer = nn.Adam(model, lr=0.01, betas=(0.7, 0.9))
    weight = torch.nn.Parameter(torch.ones(1, dtype=torch.float64))
    torch_optimizer = torch.optim.Adam([weight], lr=0.01, betas=(0.7, 0.9))
    for gradient in np.random.default_rng(0).standard_normal(20):
        model.grads["w"][...] = gradient
        optimizer.step()
        weight.grad = torch.tensor([gradient], dtype=torch.float64)
        torch_optimizer.step()
    assert model.params["w"][0] == pytest.approx(weight.item(), rel=1e-12)


@pytest.mark.parametrize("betas", [(1.0, 0.9), (0.9, -0.1)])
def test_adam_refuses_betas_outside_0_1(betas):
    with pytest.raises(ValueError, match=r"Adam's betas must lie in \[0, 1\)"):
        nn.Adam(one_weight(), betas=betas)


def test_adamw_decays_the_weight_apart_from_the_gradient():
    # θ ← θ(1 - 0.1·0.1) = 0.99, then the Adam step of 0.1: 0.89
    assert run(nn.AdamW, [0.5], lr=0.1, weight_decay=0.1) == pytest.approx([0.89])


def test_adam_l2_adds_the_penalty_to_the_gradient():
    # g' = 0.5 + 0.1·1 = 0.6; the first Adam step is lr·sign: 0.9.  Then g' = -0.5 + 0.09 = -0.41:
    # m = 0.054 - 0.041 = 0.013, m̂ = 0.0684211; v = 0.00035964 + 0.0001681 = 0.00052774, v̂ = 0.2640020
    # θ = 0.9 - 0.1·0.0684211/0.5138112 = 0.8866836
    assert run(nn.Adam, [0.5, -0.5], lr=0.1, weight_decay=0.1) == pytest.approx([0.9, 0.8866836], abs=1e-7)


def test_optimizer_state_round_trip_continues_identically():
    first = one_weight()
    optimizer = nn.Adam(first, lr=0.1)
    for gradient in (0.5, -0.25):
        first.grads["w"][...] = gradient
        optimizer.step()
    second = one_weight(float(first.params["w"][0]))
    resumed = nn.Adam(second, lr=0.1)
    resumed.load_state_dict(optimizer.state_dict())
    for model, opt in ((first, optimizer), (second, resumed)):
        model.grads["w"][...] = 0.3
        opt.step()
    assert second.params["w"][0] == first.params["w"][0]


@pytest.mark.parametrize("options, message", [
    ({"lr": -0.1}, "learning rate must be a positive number or a schedule, got -0.1"),
    ({"lr": 0.1, "momentum": -1}, "momentum and weight_decay must be >= 0"),
    ({"lr": 0.1, "nesterov": True}, "Nesterov momentum needs momentum > 0"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        nn.SGD(one_weight(), **options)


@pytest.mark.parametrize("schedule, epochs, expected", [
    (nn.Constant(0.3), [0, 7.5], [0.3, 0.3]),
    (nn.StepDecay(0.1, step_size=2, gamma=0.5), [0, 1.9, 2, 4.5], [0.1, 0.1, 0.05, 0.025]),
    (nn.ExponentialDecay(1.0, gamma=0.5), [0, 1, 3], [1.0, 0.5, 0.125]),
    (nn.CosineDecay(1.0, epochs=10), [0, 5, 10, 12], [1.0, 0.5, 0.0, 0.0]),
    (nn.CosineDecay(1.0, epochs=10, min_lr=0.1), [5], [0.55]),
    (nn.Warmup(nn.Constant(0.1), warmup_epochs=2), [0, 1, 2, 3], [0.0, 0.05, 0.1, 0.1]),
    (nn.Warmup(nn.CosineDecay(1.0, epochs=4), warmup_epochs=1), [0.5, 2], [0.5 * np.cos(np.pi / 16) ** 2, 0.5]),
])
def test_schedules(schedule, epochs, expected):
    assert [schedule(epoch) for epoch in epochs] == pytest.approx(expected)


def test_the_optimizer_follows_its_schedule():
    optimizer = nn.SGD(one_weight(), lr=nn.StepDecay(0.1, step_size=1, gamma=0.1))
    optimizer.set_epoch(2.5)
    assert optimizer.lr == pytest.approx(0.001)
    assert type(optimizer.lr) is float
