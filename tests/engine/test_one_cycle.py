"""The one-cycle schedule: hand-worked values of its two half-cosines, and PyTorch's OneCycleLR step by step."""
import numpy as np
import pytest

import nnscratch as nn


def test_one_cycle_by_hand():
    # max 1, div 25, final div 1e4: starts at 0.04, peaks at 1 at 0.3·10 = epoch 3, ends at 4e-6 at epoch 10
    schedule = nn.OneCycle(1.0, epochs=10)
    start, end = 0.04, 0.04 / 1e4
    assert schedule(0) == pytest.approx(start)
    assert schedule(1.5) == pytest.approx((1.0 + start) / 2)       # half-way up: the cosine's midpoint
    assert schedule(3) == pytest.approx(1.0)
    assert schedule(6.5) == pytest.approx((1.0 + end) / 2)         # half-way down
    assert schedule(10) == pytest.approx(end)
    assert schedule(12) == pytest.approx(end)                      # after the cycle: the minimum stays
    # a quarter of the way up: end + ½(start - end)(1 + cos(π/4)) with start = 0.04, end = 1
    assert schedule(0.75) == pytest.approx(1.0 + 0.5 * (start - 1.0) * (1 + np.cos(np.pi / 4)))


def test_one_cycle_refuses_bad_settings():
    with pytest.raises(ValueError, match=r"pct_start must lie in \(0, 1\), got 1.2"):
        nn.OneCycle(0.1, epochs=3, pct_start=1.2)
    with pytest.raises(ValueError, match="must be positive, got 0"):
        nn.OneCycle(0.1, epochs=0)
    with pytest.raises(ValueError, match="steps_per_epoch must be at least 1, got 0"):
        nn.OneCycle(0.1, epochs=3, steps_per_epoch=0)


class TestAgainstPyTorch:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; `pip install torch==2.13.0` enables "
                                                "the oracle tests")

    def torch_rates(self, max_lr, total_steps, **options):
        parameter = self.torch.nn.Parameter(self.torch.zeros(1))
        optimizer = self.torch.optim.SGD([parameter], lr=max_lr)
        scheduler = self.torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps,
                                                             cycle_momentum=False, **options)
        rates = []
        for _ in range(total_steps):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return rates

    @pytest.mark.parametrize("epochs, steps_per_epoch, options", [
        (1, 235, {}),                                              # the fast recipe: one epoch of batch 256
        (3, 40, {"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}),
        (2, 7, {"pct_start": 0.5}),
    ])
    def test_every_step_matches_one_cycle_lr(self, epochs, steps_per_epoch, options):
        schedule = nn.OneCycle(0.01, epochs=epochs, steps_per_epoch=steps_per_epoch, **options)
        ours = [schedule(step / steps_per_epoch) for step in range(epochs * steps_per_epoch)]
        np.testing.assert_allclose(ours, self.torch_rates(0.01, epochs * steps_per_epoch, **options), rtol=1e-12)

    def test_fit_steps_through_the_same_rates(self):
        rates = []

        class Rates(nn.Callback):
            def on_batch_end(self, state):
                rates.append(state.optimizer.lr)

        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((120, 4)).astype(np.float32), rng.integers(0, 3, 120)
        model = nn.Network([4, 3], output=None, rng=0)
        optimizer = nn.Adam(model, lr=nn.OneCycle(0.01, epochs=2, steps_per_epoch=12), betas=(0.7, 0.9))
        nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), optimizer, epochs=2, batch_size=10, callbacks=[Rates()],
               rng=0)
        np.testing.assert_allclose(rates, self.torch_rates(0.01, 24), rtol=1e-12)
