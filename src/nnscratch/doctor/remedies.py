"""What the doctor says: for each code, the trouble, its likely cause and the remedy, in one line for a learner.

Each function takes the figures that led to the diagnosis and returns the line; the symbols are those of
docs/math.md (η the learning rate, W a layer's weights, z its pre-activation, σ the sigmoid).
"""

CODES = ("inputs-not-scaled", "lr-too-large", "lr-too-small", "vanishing-gradients", "saturated-units",
         "dead-relu", "stuck-at-chance")


def inputs_not_scaled(percentile, low, high):
    return (f"inputs not scaled: the input values run from {low:g} to {high:g} (99 % within ±{percentile:.3g}), "
            f"so z = xW + b is hundreds of times larger than the initialisation expects; divide pixel values by "
            f"255 (or standardise the data) so that inputs lie within about ±1")


def lr_too_large_updates(layer, ratio, lr):
    return (f"learning rate too large: one step changes the weights of {layer} by {ratio:.0%} of their size "
            f"(‖ΔW‖ / ‖W‖; healthy is about 0.001 to 0.01), so each step overshoots; try η = {lr / 10:g} "
            f"instead of {lr:g}")


def lr_too_large_loss(first, now, lr):
    return (f"learning rate too large: the loss has grown from {first:.4g} to {now:.4g} instead of falling, "
            f"because each step overshoots the minimum; try η = {lr / 10:g} instead of {lr:g}")


def lr_too_small(ratio, steps, lr):
    return (f"learning rate too small: after {steps} steps the weights move by at most {ratio:.1e} of their size "
            f"per step and the loss has hardly changed; try η = {lr * 100:g} instead of {lr:g}")


def vanishing_gradients(first, last, ratio):
    return (f"vanishing gradients: {first} gets {ratio:.0e} times the relative gradient ‖∂L/∂W‖ / ‖W‖ of {last}, "
            f"because each sigmoid or tanh layer multiplies the gradient by its slope on its way back (σ′(z) ≤ 1/4), "
            f"so the early layers barely learn; use ReLU units with He initialisation (--activation relu --init he), "
            f"or fewer layers")


def saturated_units(layer, share):
    return (f"saturated units: {share:.0%} of the units after {layer} sit at the flat ends of their activation "
            f"(|z| so large that its slope, σ′(z) or tanh′(z), is nearly 0), because the initial weights are too "
            f"large for the number of inputs; start from scaled weights (--init lecun or glorot), which keep z near 1")


def dead_relu(layer, share, examples, lr):
    return (f"dead ReLUs: {share:.0%} of the ReLU units after {layer} gave 0 for every one of the last {examples} "
            f"examples, so no gradient reaches their weights and they never recover; usually a step too large "
            f"pushed them there: try η = {lr / 10:g} instead of {lr:g}, or leaky_relu units")


def stuck_at_chance_loss(loss, chance, classes, steps, cause):
    return (f"stuck at chance: after {steps} steps the loss is still {loss:.4f}, near ln {classes} = {chance:.4f}, "
            f"what guessing among the {classes} classes gives: the network has learned nothing; {cause}")


def stuck_at_chance_accuracy(accuracy, classes, cause):
    return (f"stuck at chance: the epoch's training accuracy is {accuracy:.1%}, about what guessing among the "
            f"{classes} classes gives: the network has learned nothing; {cause}")


ZERO_WEIGHTS = ("the weights of {layer} are all zero, so every unit computes the same thing and gets the same "
                "gradient, and they never come apart: start from random weights (--init he or lecun)")
NO_CLEAR_CAUSE = ("check that the labels belong to the inputs, that the weight decay is not crushing the weights "
                  "and that the learning rate is neither far too large nor far too small")
