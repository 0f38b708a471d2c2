"""Optimizers: rules that move each parameter against its gradient.

An optimizer is built on a model and, at every ``step()``, reads each parameter's gradient from the layer that
owns it and updates the parameter in place. Its state (velocities, moment estimates) is allocated once, keyed
by the parameter's dotted name, so that it can be saved and a run resumed. The learning rate is a number or a
schedule (see ``schedules``), read through ``lr``.
"""
import numpy as np

from .schedules import as_schedule


class Optimizer:
    """Base class: holds the model's parameter slots, the learning-rate schedule and per-parameter state."""

    def __init__(self, model, lr):
        self.slots = model.slots()
        self.schedule = as_schedule(lr)
        self.lr = self.schedule(0.0)
        self.state = {}

    def set_epoch(self, epoch):
        """Set the learning rate for the (possibly fractional) epoch about to run."""
        self.lr = float(self.schedule(epoch))

    def step(self):
        for name, layer, key in self.slots:
            self.update(name, layer.params[key], layer.grads[key])

    def update(self, name, param, grad):
        raise NotImplementedError

    def buffer(self, name, kind, like):
        """The named state array, created as zeros like ``like`` on first use."""
        key = f"{name}.{kind}"
        if key not in self.state:
            self.state[key] = np.zeros_like(like)
        return self.state[key]

    def state_dict(self):
        return {key: value.copy() for key, value in self.state.items()}

    def load_state_dict(self, state):
        self.state = {key: np.array(value) for key, value in state.items()}

    def config(self):
        return {}


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

    plain:     θ ← θ - η g
    momentum:  v ← μ v + g;  θ ← θ - η v
    Nesterov:  v ← μ v + g;  θ ← θ - η (g + μ v)
    ``weight_decay`` λ adds the L2 penalty's gradient first: g ← g + λ θ.
    """

    def __init__(self, model, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(model, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"momentum and weight_decay must be >= 0, got {momentum} and {weight_decay}")
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov, self.weight_decay = float(momentum), bool(nesterov), float(weight_decay)

    def update(self, name, param, grad):
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        if not self.momentum:
            param -= self.lr * grad
            return
        velocity = self.buffer(name, "velocity", param)
        velocity *= self.momentum
        velocity += grad
        if self.nesterov:
            param -= self.lr * (grad + self.momentum * velocity)
        else:
            param -= self.lr * velocity

    def config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov, "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam: moving averages of the gradient and of its square, corrected for their start at zero.

    m ← β1 m + (1 - β1) g;   v ← β2 v + (1 - β2) g²
    θ ← θ - η · m̂ / (√v̂ + ε),   m̂ = m / (1 - β1^t),  v̂ = v / (1 - β2^t)
    ``betas`` = (β1, β2) set how far back each average reaches (about 1 / (1 - β) steps); a short run may
    want shorter memories, (0.7, 0.9) say. ``weight_decay`` λ is the L2 penalty (g ← g + λθ) unless
    ``decoupled``, where it shrinks the weights directly, θ ← θ - ηλθ (AdamW).
    """

    def __init__(self, model, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
        super().__init__(model, lr)
        self.beta1, self.beta2 = (float(beta) for beta in betas)
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise ValueError(f"Adam's betas must lie in [0, 1), got ({self.beta1}, {self.beta2})")
        self.eps, self.weight_decay, self.decoupled = float(eps), float(weight_decay), bool(decoupled)
        self.t = 0

    def step(self):
        self.t += 1
        super().step()

    def update(self, name, param, grad):
        if self.weight_decay and self.decoupled:
            param *= 1.0 - self.lr * self.weight_decay
        elif self.weight_decay:
            grad = grad + self.weight_decay * param
        m = self.buffer(name, "m", param)
        v = self.buffer(name, "v", param)
        m *= self.beta1
        m += (1.0 - self.beta1) * grad
        v *= self.beta2
        v += (1.0 - self.beta2) * (grad * grad)
        step_size = self.lr / (1.0 - self.beta1 ** self.t)
        denominator = np.sqrt(v * (1.0 / (1.0 - self.beta2 ** self.t)))
        denominator += self.eps
        param -= step_size * (m / denominator)

    def state_dict(self):
        return {**super().state_dict(), "t": np.array(self.t)}

    def load_state_dict(self, state):
        state = dict(state)
        self.t = int(state.pop("t", 0))
        super().load_state_dict(state)

    def config(self):
        return {"betas": [self.beta1, self.beta2], "eps": self.eps, "weight_decay": self.weight_decay,
                "decoupled": self.decoupled}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): θ ← θ - ηλθ, apart from the gradient step."""

    def __init__(self, model, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(model, lr, betas, eps, weight_decay, decoupled=True)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
