"""Pictures of digits: preparing any photo, scan or drawing as MNIST's digits were made (``prepare``), and
random shifts, rotations, scalings and elastic distortions of training images (``augment``)."""
from .augment import Compose, ElasticDistortion, RandomAffine, RandomShift
from .prepare import ImageError, NoInkError, image_to_grey, load_image, prepare_digit

__all__ = ["Compose", "ElasticDistortion", "ImageError", "NoInkError", "RandomAffine", "RandomShift", "image_to_grey",
           "load_image", "prepare_digit"]
