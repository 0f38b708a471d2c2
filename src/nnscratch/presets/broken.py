"""Presets that go wrong on purpose, so that a learner can see each of the doctor's diagnoses.

Pure data: each entry has the fields of ``Preset`` (name, description, reproduces, expected, measured, settings);
``recipes`` turns them into presets beside the others. ``expected`` names the doctor's diagnosis (its code);
``measured`` says when it came, on the first 5,000 training images (zero-init: 8,000), seed 0.
"""

BROKEN = [
    {"name": "broken-lr",
     "description": "the default 784-100-10 ReLU network with SGD at lr 3.0, thirty times its usual rate",
     "reproduces": "docs/math.md: ReLU with He init at eta 3.0 diverges to chance (9.90 % after one epoch)",
     "expected": "the doctor says lr-too-large within the first steps (then dead-relu)",
     "measured": "lr-too-large at step 2 of epoch 1, dead-relu at step 16; 14.4 % after the first epoch",
     "settings": {"lr": 3.0, "epochs": 3}},
    {"name": "broken-lr-small",
     "description": "the default 784-100-10 ReLU network with SGD at lr 1e-5, ten thousand times too small",
     "reproduces": "nothing changes: the loss stays where it started",
     "expected": "the doctor says lr-too-small after about 100 steps",
     "measured": "lr-too-small at step 101 of epoch 1",
     "settings": {"lr": 1e-5, "epochs": 3}},
    {"name": "broken-init",
     "description": "784-100-10 tanh with N(0, 1) weights (--init normal), softmax cross-entropy, SGD lr 0.01",
     "reproduces": "docs/math.md, why the initializers scale: N(0, 1) weights on 784 inputs saturate the units",
     "expected": "the doctor says saturated-units after about 50 steps",
     "measured": "saturated-units at step 51 of epoch 1 (80 % of the hidden units saturated)",
     "settings": {"activation": "tanh", "init": "normal", "lr": 0.01, "epochs": 3}},
    {"name": "deep-sigmoid",
     "description": "784-30-30-30-30-30-10 sigmoid with LeCun init, softmax cross-entropy, SGD lr 0.1",
     "reproduces": "Nielsen, Neural Networks and Deep Learning, chapter 5: the early layers of a deep sigmoid "
                   "network learn hundreds of times slower than the last",
     "expected": "the doctor says vanishing-gradients within the first few dozen steps",
     "measured": "vanishing-gradients at step 21 of epoch 1 (the first layer gets 2e-03 of the last's "
                 "relative gradient)",
     "settings": {"layers": [784, 30, 30, 30, 30, 30, 10], "activation": "sigmoid", "init": "lecun",
                  "lr": 0.1, "epochs": 3}},
    {"name": "dead-relu",
     "description": "the default 784-100-10 ReLU network with Adam at lr 0.05, fifty times its usual rate",
     "reproduces": "steps too large push most ReLU units to where they give 0 for every input",
     "expected": "the doctor says dead-relu within the first steps",
     "measured": "dead-relu at step 16 of epoch 1 (66 % of the hidden units dead)",
     "settings": {"optimizer": "adam", "lr": 0.05, "epochs": 3}},
    {"name": "zero-init",
     "description": "784-100-10 tanh with every weight starting at zero (--init zeros)",
     "reproduces": "equal weights get equal gradients (for tanh after zero weights: none), so the units never "
                   "come apart and only the output biases learn",
     "expected": "the doctor says stuck-at-chance after about 200 steps",
     "measured": "stuck-at-chance at step 201 of epoch 1 (loss 2.3020, ln 10 = 2.3026)",
     "settings": {"activation": "tanh", "init": "zeros", "epochs": 3}},
]

# Joins BROKEN once the runs have the setting it needs, ``input_scale`` (every input multiplied by it; default 1).
UNSCALED_INPUTS = \
    {"name": "unscaled-inputs",
     "description": "the default 784-100-10 ReLU network on raw pixel values 0..255 (--input-scale 255), with "
                    "Adam at lr 1e-3 (plain SGD at lr 0.1 diverges in its second step)",
     "reproduces": "a user's own data, not divided by 255",
     "expected": "the doctor says inputs-not-scaled before the first step",
     "measured": "inputs-not-scaled at step 0 of epoch 1",
     "settings": {"input_scale": 255.0, "optimizer": "adam", "lr": 1e-3, "epochs": 3}}
