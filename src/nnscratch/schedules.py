"""Learning-rate schedules: the learning rate as a function of training progress.

A schedule is called with the epoch as a float (2.5 is half-way through the third epoch) and returns the
learning rate; training calls it before every step, so decays and warm-ups are smooth.
"""
import math
import numbers


class Schedule:
    def __call__(self, epoch):
        raise NotImplementedError

    def config(self):
        return dict(vars(self))

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"


class Constant(Schedule):
    """η(t) = η0."""

    def __init__(self, lr):
        self.lr = float(lr)

    def __call__(self, epoch):
        return self.lr


class StepDecay(Schedule):
    """η(t) = η0 · γ^⌊t / step_size⌋: multiply by γ every ``step_size`` epochs."""

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr, self.step_size, self.gamma = float(lr), float(step_size), float(gamma)

    def __call__(self, epoch):
        return self.lr * self.gamma ** math.floor(epoch / self.step_size)


class ExponentialDecay(Schedule):
    """η(t) = η0 · γ^t."""

    def __init__(self, lr, gamma):
        self.lr, self.gamma = float(lr), float(gamma)

    def __call__(self, epoch):
        return self.lr * self.gamma ** epoch


class CosineDecay(Schedule):
    """η(t) = η_min + ½(η0 - η_min)(1 + cos(π t / T)) for t ≤ T, then η_min."""

    def __init__(self, lr, epochs, min_lr=0.0):
        self.lr, self.epochs, self.min_lr = float(lr), float(epochs), float(min_lr)

    def __call__(self, epoch):
        progress = min(epoch / self.epochs, 1.0)
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * progress))


class Warmup(Schedule):
    """η(t) = after(t) · t / warmup_epochs for t < warmup_epochs, then after(t): a linear ramp from zero."""

    def __init__(self, after, warmup_epochs):
        self.after, self.warmup_epochs = as_schedule(after), float(warmup_epochs)

    def __call__(self, epoch):
        if epoch < self.warmup_epochs:
            return self.after(epoch) * epoch / self.warmup_epochs
        return self.after(epoch)

    def config(self):
        return {"after": repr(self.after), "warmup_epochs": self.warmup_epochs}


def as_schedule(lr):
    """A schedule from a schedule, or from a positive number (a constant rate)."""
    if isinstance(lr, Schedule):
        return lr
    if callable(lr):
        return lr
    if not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"the learning rate must be a positive number or a schedule, got {lr!r}")
    return Constant(lr)
