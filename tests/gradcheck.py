"""Numerical gradient checks by central differences, in float64.

For a layer f and a fixed random R, the scalar L = Σ f(x) ⊙ R has dL/dy = R, so ``backward(R)`` must return
dL/dx and fill dL/dθ. Each is compared with (L(v + h) - L(v - h)) / 2h, one entry of v at a time.
"""
import numpy as np


def numerical_gradient(function, array, h=1e-6):
    """∂function()/∂array by central differences, perturbing ``array`` in place (and restoring it)."""
    grad = np.zeros_like(array, dtype=np.float64)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for index in range(flat.size):
        saved = flat[index]
        flat[index] = saved + h
        plus = function()
        flat[index] = saved - h
        minus = function()
        flat[index] = saved
        flat_grad[index] = (plus - minus) / (2 * h)
    return grad


def assert_close(name, analytic, numeric, rtol, atol):
    analytic = np.asarray(analytic, dtype=np.float64)
    assert analytic.shape == numeric.shape, f"{name}: gradient shape {analytic.shape}, expected {numeric.shape}"
    error = np.abs(analytic - numeric)
    bound = atol + rtol * np.abs(numeric)
    worst = np.unravel_index(np.argmax(error - bound), error.shape)
    assert np.all(error <= bound), (
        f"{name}: analytic {analytic[worst]:.8g} vs numerical {numeric[worst]:.8g} at {worst}, "
        f"max abs error {error.max():.3g}"
    )


def check_layer_gradients(layer, x, rtol=1e-5, atol=1e-7, seed=0, before_forward=None):
    """Compare ``layer.backward`` with central differences for the input and every parameter.

    ``before_forward`` is called before each forward pass (to reset a random generator, for dropout).
    """
    layer.astype(np.float64)
    x = np.array(x, dtype=np.float64)
    reset = before_forward or (lambda: None)
    reset()
    y = layer.forward(x)
    weights = np.random.default_rng(seed).standard_normal(y.shape)

    def loss():
        reset()
        return float(np.sum(layer.forward(x) * weights))

    reset()
    layer.forward(x)
    grad_x = layer.backward(weights.copy())
    analytic_params = {key: grad.copy() for key, grad in layer.grads.items()}
    assert_close(f"{type(layer).__name__} dL/dx", grad_x, numerical_gradient(loss, x), rtol, atol)
    for key, param in layer.params.items():
        assert_close(f"{type(layer).__name__} dL/d{key}", analytic_params[key], numerical_gradient(loss, param),
                     rtol, atol)


def check_loss_gradient(loss, output, target, rtol=1e-5, atol=1e-7):
    """Compare a loss's gradient with central differences of its value."""
    output = np.array(output, dtype=np.float64)
    _, grad = loss(output.copy(), target)
    numeric = numerical_gradient(lambda: loss(output, target)[0], output)
    assert_close(f"{type(loss).__name__} dL/doutput", grad, numeric, rtol, atol)
