"""The one exception the data loaders raise for a file or a source they cannot use."""
from ..errors import NNScratchError


class DataError(NNScratchError, ValueError):
    """A data file is missing, damaged, of the wrong kind, or no source could supply a data set.

    The message is one readable line that names the file and says what was expected and what came (the
    "nothing worked" error lists every source that was tried, one per line).
    """
