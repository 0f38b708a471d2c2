"""The files that ``nnscratch exercises start NAME`` writes: a subclass of the engine's own class whose methods
raise ``NotImplementedError``, with the equation, the shapes and the hints in their docstrings."""

HEADER = '''"""Exercise {number} of the nnscratch track: {title}.

{teaches}
Fill in the methods below, then check your work:

    nnscratch exercises check {filename}

The check compares your class with the engine's on random inputs, names the array that is wrong and the likely
cause, replays your class beside the engine's in a small MNIST network, and when all is right trains a network
of your own layers. Read first: docs/math.md, "{math}". After you have tried, compare with the model answer,
{answer}.
"""
import numpy as np

import nnscratch as nn
{imports}
'''

BODIES = {
    "sigmoid": '''
class MySigmoid(nn.Sigmoid):
    """σ(x) = 1 / (1 + e^(-x)), element by element."""

    def forward(self, x):
        """y = σ(x). x: (N, features) -> y: the same shape and dtype.

        Keep what backward needs: σ(x) itself (self.y = ...). Hint: e^(-x) overflows for large negative x;
        σ(x) = ½(1 + tanh(x / 2)) never does.
        """
        raise NotImplementedError("MySigmoid.forward: compute y = σ(x), keep it in self.y, return it")

    def backward(self, grad_out):
        """dL/dx = dL/dy ⊙ σ(x)(1 - σ(x)). grad_out: (N, features) -> dL/dx: the same shape.

        Hint: use the σ(x) that forward kept; write 1.0 (a Python number) so that float32 stays float32.
        """
        raise NotImplementedError("MySigmoid.backward: return grad_out * σ(x) * (1 - σ(x))")
''',
    "linear": '''
class MyLinear(nn.Linear):
    """y = x W + b. x: (N, in_features), W: (in_features, out_features), b: (out_features,),
    y: (N, out_features). nn.Linear.__init__ has made self.params["W"] and self.params["b"]."""

    def forward(self, x):
        """y = x W + b (b is added to every row by broadcasting). Keep x for backward: self.x = x."""
        raise NotImplementedError("MyLinear.forward: keep x, return x @ W + b")

    def backward(self, grad_out):
        """grad_out = dL/dy, shape (N, out_features). Fill

            self.grads["W"] = dL/dW = xᵀ · dL/dy          shape (in_features, out_features)
            self.grads["b"] = dL/db = Σ_rows dL/dy        shape (out_features,)

        and return dL/dx = dL/dy · Wᵀ, shape (N, in_features).

        Hints: assign the grads (=), never add to them (+=); the sum over the batch is inside xᵀ · dL/dy,
        so there is no division by N here (the loss has done it); never change params here.
        """
        raise NotImplementedError("MyLinear.backward: fill self.grads['W'] and self.grads['b'], return dL/dx")
''',
    "softmax-cross-entropy": '''
class MySoftmaxCrossEntropy(nn.SoftmaxCrossEntropy):
    """The cross-entropy of softmax(z) for logits z and integer labels y, averaged over the batch."""

    def __call__(self, output, target):
        """output: logits z, shape (N, C); target: integer labels, shape (N,). Return (loss, dL/dz):

            loss  = (1/N) Σ_n (log Σ_j e^(z_nj) - z_n,y_n)        a Python float
            dL/dz = (softmax(z) - onehot(y)) / N                 shape (N, C), the dtype of z

        Hints: subtract each row's maximum before exp (z - z.max(axis=1, keepdims=True)): the loss and the
        softmax do not change, and exp cannot overflow. p[np.arange(N), target] picks each row's label.
        """
        raise NotImplementedError("MySoftmaxCrossEntropy.__call__: return the mean loss and (p - onehot) / N")
''',
    "relu": '''
class MyReLU(nn.ReLU):
    """ReLU(x) = max(0, x), element by element."""

    def forward(self, x):
        """y = max(0, x). x: (N, features) -> y: the same shape and dtype.

        Keep for backward where x > 0 (a boolean mask). Hint: np.maximum(x, 0) makes a new array;
        x[x < 0] = 0 would change the caller's x.
        """
        raise NotImplementedError("MyReLU.forward: keep the mask x > 0, return max(0, x)")

    def backward(self, grad_out):
        """dL/dx = dL/dy where x > 0, and 0 elsewhere (0 at x = 0 itself). Same shape as grad_out.

        Hint: multiply by the mask; do not assign into grad_out, it belongs to the caller.
        """
        raise NotImplementedError("MyReLU.backward: return grad_out where x > 0, else 0")
''',
    "two-layer": '''
class MyTwoLayerNetwork(nn.Network):
    """Linear, Sigmoid, Linear: MyTwoLayerNetwork([n_in, n_hidden, n_out], activation="sigmoid", output=None).

    self.layers[0] and self.layers[2] are the two Linear layers: W1 = self.layers[0].params["W"] (n_in, n_hidden),
    b1 = self.layers[0].params["b"], W2 = self.layers[2].params["W"] (n_hidden, n_out), b2 likewise. Write the
    whole network here, without calling the layers' own forward and backward.
    """

    def forward(self, x):
        """Z1 = x W1 + b1, A1 = σ(Z1), Z2 = A1 W2 + b2, and return the logits Z2 (N, n_out).

        Keep x and A1 for backward (self.x = x, self.a1 = ...).
        """
        raise NotImplementedError("MyTwoLayerNetwork.forward: compute Z1, A1 = σ(Z1), return Z2")

    def backward(self, grad_out):
        """grad_out = δ2 = dL/dZ2, shape (N, n_out). The four equations of backpropagation, in batch form:

            BP3, BP4 for the second layer:   db2 = 1ᵀ δ2 (sum the rows),   dW2 = A1ᵀ δ2
            BP2:                             δ1 = (δ2 W2ᵀ) ⊙ σ'(Z1),   with σ'(Z1) = A1 ⊙ (1 - A1)
            BP3, BP4 for the first layer:    db1 = 1ᵀ δ1,                 dW1 = xᵀ δ1

        Store them in self.layers[0].grads["W"], ["b"] and self.layers[2].grads["W"], ["b"] (assign, do not add),
        and return dL/dx = δ1 W1ᵀ, shape (N, n_in).
        """
        raise NotImplementedError("MyTwoLayerNetwork.backward: the four equations, from δ2 back to dL/dx")
''',
    "sgd": '''
class MySGD(nn.SGD):
    """Stochastic gradient descent with momentum μ (self.momentum) and learning rate η (self.lr):

        v ← μ v + g;   θ ← θ - η v          (and plain θ ← θ - η g when μ = 0)

    step() (from nn.SGD) calls update once for every parameter of the model.
    """

    def update(self, name, param, grad):
        """Move one parameter, in place. name: its dotted name ("0.W"); param and grad: arrays of one shape.

        velocity = self.buffer(name, "velocity", param) is this parameter's v (zeros at the first step); update
        it in place too (velocity *= ..., velocity += ...). Hints: param -= ... changes the model's array,
        param = ... only rebinds a local name; never change grad, it belongs to the layer. The check uses no
        Nesterov momentum and no weight decay.
        """
        raise NotImplementedError("MySGD.update: v ← μ v + g, θ ← θ - η v, both in place")
''',
    "adam": '''
class MyAdam(nn.Adam):
    """Adam: moving averages of the gradient and of its square, corrected for their start at zero.

        m ← β1 m + (1 - β1) g;      v ← β2 v + (1 - β2) g²
        m̂ = m / (1 - β1^t);         v̂ = v / (1 - β2^t)
        θ ← θ - η m̂ / (√v̂ + ε)

    self.beta1, self.beta2, self.eps and self.lr hold β1, β2, ε and η; self.t is the step number, which
    step() (from nn.Adam) counts from 1 before it calls update for every parameter.
    """

    def update(self, name, param, grad):
        """Move one parameter, in place. m = self.buffer(name, "m", param) and v = self.buffer(name, "v", param)
        are its two averages (zeros at first); update them in place as well. Hints: ε is added after the square
        root; never change grad. The check uses no weight decay.
        """
        raise NotImplementedError("MyAdam.update: update m and v, correct them, move the parameter")
''',
    "max-pooling": '''
class MyMaxPool2D(nn.MaxPool2D):
    """y[n, c, i, j] = the maximum of the window of x[n, c] at (i·sh, j·sw).

    x: (N, C, H, W) -> y: (N, C, OH, OW), OH = (H - kh) // sh + 1, OW likewise. self.kernel_size = (kh, kw),
    self.stride = (sh, sw).
    """

    def forward(self, x):
        """unfold(x, self.kernel_size, self.stride) gives every window at once, shape (N, C, OH, OW, kh, kw)
        (a view, no copy). Flatten each window to kh·kw values and take the max.

        Keep for backward which entry of each window was the maximum (argmax: where several tie, the first one
        takes it all, as in PyTorch) and x.shape.
        """
        raise NotImplementedError("MyMaxPool2D.forward: every window's maximum, and where it was")

    def backward(self, grad_out):
        """dL/dx = dL/dy at each window's maximum, 0 at the other entries of the window, summed where windows
        overlap. grad_out: (N, C, OH, OW) -> dL/dx: (N, C, H, W).

        Hint: build the per-window gradients, shape (N, C, OH, OW, kh, kw), and fold(them, x.shape,
        self.stride) adds each window back onto the pixels it was read from.
        """
        raise NotImplementedError("MyMaxPool2D.backward: dL/dy to each window's maximum, 0 elsewhere")
''',
    "convolution": '''
class MyConv2D(nn.Conv2D):
    """y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, c] (cross-correlation), computed by im2col.

    x: (N, C_in, H, W), W = self.params["W"]: (C_out, C_in, kh, kw), b: (C_out,), y: (N, C_out, OH, OW) with
    OH = (H + 2p - kh) // s + 1. self.kernel_size, self.stride, self.padding are pairs; self.output_shape(x)
    checks x and gives (OH, OW).
    """

    def forward(self, x):
        """im2col: pad x by p on each side (np.pad), take every window with unfold(padded, self.kernel_size,
        self.stride) -> (N, C_in, OH, OW, kh, kw), and lay each window out as one column of a matrix X of shape
        (C_in·kh·kw, N·OH·OW) (transpose to (C_in, kh, kw, N, OH, OW), then reshape). Then, with
        W_matrix = W.reshape(C_out, -1), Y = W_matrix X + b[:, None] is (C_out, N·OH·OW): reshape it to
        (C_out, N, OH, OW) and transpose to (N, C_out, OH, OW).

        Keep X and the padded input's shape for backward.
        """
        raise NotImplementedError("MyConv2D.forward: unfold the windows into X, Y = W X + b, reshape to NCHW")

    def backward(self, grad_out):
        """With G = grad_out as a (C_out, N·OH·OW) matrix (transpose(1, 0, 2, 3), then reshape), Y = W X + b gives

            dL/dW = G Xᵀ, reshaped to W's shape;   dL/db = G summed over its columns;   dL/dX = W_matrixᵀ G

        and dL/dx is dL/dX put back into windows, (N, C_in, OH, OW, kh, kw), folded onto the padded input with
        fold(windows, padded_shape, self.stride), and cropped by the padding.
        """
        raise NotImplementedError("MyConv2D.backward: dW = G Xᵀ, db = G·1, dX = Wᵀ G folded back to dL/dx")
''',
    "batch-normalisation": '''
class MyBatchNorm(nn.BatchNorm):
    """y = γ (x - μ) / √(σ² + ε) + β for each feature; x: (N, F), γ = self.params["gamma"], β = ["beta"]: (F,).

    Only dense input (N, F) is checked; the engine's BatchNorm also takes (N, C, H, W).
    """

    def forward(self, x):
        """In training (self.training): μ and σ² are the batch's mean and (biased) variance of each column,
        and self.update_running_statistics(mean, variance, N) keeps their running averages. In eval mode, use
        self.buffers["running_mean"] and self.buffers["running_var"] instead.

        x̂ = (x - μ) / √(σ² + ε) with ε = self.eps; y = γ x̂ + β. Keep x̂ and 1 / √(σ² + ε) for backward.
        """
        raise NotImplementedError("MyBatchNorm.forward: standardise each column, then scale by γ and shift by β")

    def backward(self, grad_out):
        """With g = dL/dy (N, F) and s = √(σ² + ε):

            dL/dγ = Σ_rows g ⊙ x̂,   dL/dβ = Σ_rows g,
            dL/dx = (γ / s) ⊙ (g - mean_rows(g) - x̂ ⊙ mean_rows(g ⊙ x̂))      (training: μ and σ² depend on x)
            dL/dx = (γ / s) ⊙ g                                               (eval mode)

        Fill self.grads["gamma"] and self.grads["beta"] and return dL/dx.
        """
        raise NotImplementedError("MyBatchNorm.backward: dγ, dβ, and dL/dx through μ and σ² too")
''',
    "dropout": '''
class MyDropout(nn.Dropout):
    """Inverted dropout: in training y = x ⊙ m / (1 - p) with m_i ~ Bernoulli(1 - p); in eval mode y = x.

    self.p is p and self.rng the random generator.
    """

    def forward(self, x):
        """Draw the mask exactly so, because the check replays the same random numbers beside the engine's:

            keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p

        then y = x ⊙ keep / (1 - p). Keep the scaled mask for backward. In eval mode (not self.training), or
        with p = 0, return x itself and remember that nothing was masked.
        """
        raise NotImplementedError("MyDropout.forward: draw the mask, scale by 1 / (1 - p)")

    def backward(self, grad_out):
        """dL/dx = dL/dy ⊙ m / (1 - p), the same mask and scale as forward (dL/dy itself in eval mode)."""
        raise NotImplementedError("MyDropout.backward: the same mask and scale as forward")
''',
}

IMPORTS = {
    "max-pooling": "from nnscratch.layers.windows import fold, unfold\n",
    "convolution": "from nnscratch.layers.windows import fold, unfold\n",
}


def template(exercise):
    """The text of the file to fill in for ``exercise`` (a ``track.Exercise``)."""
    header = HEADER.format(number=exercise.number, title=exercise.title, teaches=exercise.teaches,
                           filename=exercise.filename, math=exercise.math, answer=exercise.answer,
                           imports=IMPORTS.get(exercise.name, ""))
    return header + BODIES[exercise.name]
