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


class OneCycle(Schedule):
    """The one-cycle policy (Smith and Topin): warm up from max_lr / div_factor to max_lr over the first
    ``pct_start`` of training, then anneal to max_lr / (div_factor · final_div_factor), both by half a cosine:

        η(u) = η_end + ½(η_start - η_end)(1 + cos(π (u - u_start) / (u_end - u_start)))  within each phase.

    Progress u is the epoch; the warm-up ends at pct_start · epochs and the annealing at ``epochs``, after which
    the rate stays at its minimum. Given ``steps_per_epoch``, u counts steps (u = epoch · steps_per_epoch) and the
    phases end at pct_start · total - 1 and total - 1, as PyTorch's ``OneCycleLR(max_lr, total_steps=total)``
    does (``cycle_momentum=False``): the same rate at every step of epochs made of equal batches.
    """

    def __init__(self, max_lr, epochs, pct_start=0.3, div_factor=25.0, final_div_factor=1e4, steps_per_epoch=None):
        if not 0.0 < pct_start < 1.0:
            raise ValueError(f"pct_start must lie in (0, 1), got {pct_start}")
        if epochs <= 0 or div_factor <= 0 or final_div_factor <= 0:
            raise ValueError(f"epochs, div_factor and final_div_factor must be positive, got {epochs}, "
                             f"{div_factor} and {final_div_factor}")
        if steps_per_epoch is not None and steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be at least 1, got {steps_per_epoch}")
        self.max_lr, self.epochs, self.pct_start = float(max_lr), float(epochs), float(pct_start)
        self.div_factor, self.final_div_factor = float(div_factor), float(final_div_factor)
        self.steps_per_epoch = steps_per_epoch

    def __call__(self, epoch):
        start_lr = self.max_lr / self.div_factor
        end_lr = start_lr / self.final_div_factor
        if self.steps_per_epoch is None:
            u, peak, end = epoch, self.pct_start * self.epochs, self.epochs
        else:  # PyTorch's step arithmetic: the last step of each phase lands on its end value
            total = self.epochs * self.steps_per_epoch
            u, peak, end = epoch * self.steps_per_epoch, self.pct_start * total - 1.0, total - 1.0
        if u <= peak:
            return cosine_between(start_lr, self.max_lr, u / peak if peak > 0 else 1.0)
        return cosine_between(self.max_lr, end_lr, min((u - peak) / (end - peak), 1.0))


def cosine_between(start, end, progress):
    """Half a cosine from ``start`` (progress 0) to ``end`` (progress 1)."""
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * progress))


def as_schedule(lr):
    """A schedule from a schedule, or from a positive number (a constant rate)."""
    if isinstance(lr, Schedule):
        return lr
    if callable(lr):
        return lr
    if not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"the learning rate must be a positive number or a schedule, got {lr!r}")
    return Constant(lr)
