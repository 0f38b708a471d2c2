"""From checked settings to the objects ``fit`` trains with: the network, its loss, its optimizer with its
learning-rate schedule, and the augmentation of its training images.

``build_model`` makes an ``mlp`` (dense layers of the ``layers`` sizes) or one of the convolutional networks of
``CONVOLUTIONS``; ``build_transform`` turns ``augment`` into ``RandomShift`` (N pixels), ``RandomAffine``, or an
``ElasticDistortion`` followed by ``RandomAffine``.
The settings come from ``runs.settings`` (the table of every setting, a preset's values, the caller's).
"""
from ..images.augment import Compose, ElasticDistortion, RandomAffine, RandomShift
from ..layers import BatchNorm, Conv2D, Dropout, Flatten, Linear, MaxPool2D, ReLU
from ..losses import get_loss
from ..network import Network, Sequential
from ..optimizers import OPTIMIZERS
from ..schedules import Constant, CosineDecay, ExponentialDecay, OneCycle, StepDecay, Warmup

SCHEDULES = ("constant", "cosine", "one-cycle", "step", "exponential")
# The convolutional networks: (output channels, kernel size) of each convolution; each is followed by a 2×2
# max-pool and a ReLU, and the last by a dense hidden layer of `hidden` units and 10 outputs.
CONVOLUTIONS = {"cnn": [(32, 5), (64, 5)], "cnn-small": [(24, 5), (32, 3)]}
ARCHITECTURES = ("mlp", *CONVOLUTIONS)
CNN_INPUT_SHAPE = [1, 28, 28]
CNN_CLASSES = 10
AFFINE = {"shift": 2.0, "rotation": 10.0, "scale": 0.1}  # what --augment affine draws from
ELASTIC = {"alpha": 1.5, "grid": 4}  # --augment elastic: these bends, then AFFINE


def build_model(settings, rng):
    """The network ``settings["architecture"]`` names: ``mlp`` (``build_mlp``) or ``cnn`` (``build_cnn``)."""
    architecture = settings.get("architecture", "mlp")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    return build_cnn(settings, rng) if is_cnn(settings) else build_mlp(settings, rng)


def is_cnn(settings):
    """Whether ``settings`` describe one of the convolutional networks."""
    return settings.get("architecture", "mlp") in CONVOLUTIONS


def input_shape(settings):
    """The shape of one example as the network of ``settings`` takes it: [1, 28, 28] or [inputs]."""
    if is_cnn(settings):
        return list(CNN_INPUT_SHAPE)
    return [int(settings["layers"][0])]


def build_mlp(settings, rng):
    """``Network``: Linear layers of ``settings["layers"]`` sizes, the activation after each, dropout after hidden
    ones."""
    output = None if settings["output"] in (None, "none") else settings["output"]
    return Network(settings["layers"], activation=settings["activation"], output=output, init=settings["init"],
                   bias_init=settings["bias_init"], dropout=float(settings["dropout"]), rng=rng)


def build_cnn(settings, rng):
    """The convolutions of ``CONVOLUTIONS[architecture]`` (``cnn``: 5×5×32 and 5×5×64), each followed by a 2×2
    max-pool and a ReLU, then a dense layer of ``hidden`` units, ReLU, dropout and 10 outputs, on (N, 1, 28, 28)
    images; with ``batch_norm``, a BatchNorm after each convolution and the hidden dense layer.

    Pooling before the ReLU gives the same result as after it (both are monotone) on a quarter of the values.
    """
    hidden, dropout = int(settings["hidden"]), float(settings["dropout"])
    norm = (lambda features: [BatchNorm(features)]) if settings["batch_norm"] else (lambda features: [])
    layers, channels, side = [], CNN_INPUT_SHAPE[0], CNN_INPUT_SHAPE[1]
    for out_channels, kernel in CONVOLUTIONS[settings["architecture"]]:
        layers += [Conv2D(channels, out_channels, kernel, rng=rng), *norm(out_channels), MaxPool2D(2), ReLU()]
        channels, side = out_channels, (side - kernel + 1) // 2
    layers += [Flatten(), Linear(channels * side * side, hidden, rng=rng), *norm(hidden), ReLU()]
    if dropout:
        layers.append(Dropout(dropout, rng=rng))
    layers.append(Linear(hidden, CNN_CLASSES, rng=rng))
    return Sequential(layers)


def build_transform(settings):
    """The augmentation of ``settings["augment"]``: None for 0, ``RandomShift(N)`` for N pixels, or
    ``RandomAffine`` for "affine" (shifts up to 2 pixels, rotations up to 10 degrees, scalings up to 10 %), or
    for "elastic" an ``ElasticDistortion`` (moves of up to 1.5 pixels on a 4×4 grid) followed by that affine map."""
    augment = settings["augment"]
    if augment == "affine":
        return RandomAffine(**AFFINE)
    if augment == "elastic":
        return Compose(ElasticDistortion(**ELASTIC), RandomAffine(**AFFINE))
    if isinstance(augment, str) or int(augment) < 0:
        raise ValueError(f"augment must be a number of pixels, 'affine' or 'elastic', got {augment!r}")
    return RandomShift(int(augment)) if int(augment) else None


def build_loss(settings):
    """The loss named in ``settings``; softmax cross-entropy with its ``label_smoothing``."""
    smoothing = float(settings.get("label_smoothing") or 0.0)
    if smoothing and settings["loss"] != "softmax_cross_entropy":
        raise ValueError(f"label smoothing applies to softmax_cross_entropy, not {settings['loss']}")
    return get_loss(settings["loss"], **({"label_smoothing": smoothing} if smoothing else {}))


def build_schedule(settings):
    """The learning rate over epochs: constant, cosine (to zero at the last epoch), step (x0.1 every third of
    the run) or exponential (x0.9 an epoch), optionally after a linear warm-up."""
    lr, epochs, name = float(settings["lr"]), int(settings["epochs"]), settings["schedule"]
    if not lr > 0:
        raise ValueError(f"the learning rate must be positive, got {lr}")
    schedules = {"constant": lambda: Constant(lr), "cosine": lambda: CosineDecay(lr, epochs),
                 "one-cycle": lambda: OneCycle(lr, epochs),
                 "step": lambda: StepDecay(lr, max(1, epochs // 3), 0.1),
                 "exponential": lambda: ExponentialDecay(lr, 0.9)}
    if name not in schedules:
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}")
    schedule = schedules[name]()
    return Warmup(schedule, settings["warmup"]) if settings["warmup"] else schedule


def build_optimizer(settings, model):
    """The optimizer named in ``settings``, stepping by ``build_schedule``'s learning rate."""
    name = settings["optimizer"]
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    schedule, weight_decay = build_schedule(settings), float(settings["weight_decay"])
    if name == "sgd":
        return OPTIMIZERS[name](model, schedule, momentum=float(settings["momentum"]), weight_decay=weight_decay)
    return OPTIMIZERS[name](model, schedule, betas=tuple(settings.get("betas") or (0.9, 0.999)),
                            weight_decay=weight_decay)
