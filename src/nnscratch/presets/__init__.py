"""Named training recipes (``recipes``): from the classic from-scratch networks to our best convolutional
network, with the settings every run starts from and the functions that turn settings into a model, a loss,
an optimizer and an augmentation."""
from .recipes import (
                      AFFINE,
                      ARCHITECTURES,
                      CNN_CLASSES,
                      CNN_INPUT_SHAPE,
                      CONVOLUTIONS,
                      DEFAULTS,
                      PRESETS,
                      SCHEDULES,
                      Preset,
                      build_cnn,
                      build_loss,
                      build_mlp,
                      build_model,
                      build_optimizer,
                      build_schedule,
                      build_transform,
                      get_preset,
                      input_shape,
                      is_cnn,
)

__all__ = ["AFFINE", "ARCHITECTURES", "CNN_CLASSES", "CNN_INPUT_SHAPE", "CONVOLUTIONS", "DEFAULTS", "PRESETS",
           "SCHEDULES", "Preset", "build_cnn", "build_loss", "build_mlp", "build_model", "build_optimizer",
           "build_schedule", "build_transform", "get_preset", "input_shape", "is_cnn"]
