"""Pictures of digits: preparing any photo, scan or drawing as MNIST's digits were made (``prepare``), and
random shifts, rotations and scalings of training images (``augment``)."""
from .augment import RandomAffine, RandomShift
from .prepare import ImageError, NoInkError, image_to_grey, load_image, prepare_digit

__all__ = ["ImageError", "NoInkError", "RandomAffine", "RandomShift", "image_to_grey", "load_image", "prepare_digit"]
