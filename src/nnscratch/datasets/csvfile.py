"""MNIST as CSV, the Kaggle way: one image per line, the label first and then 784 pixel values 0..255.

The header is ``label,1x1,1x2,...,28x28`` (the Kaggle "MNIST in CSV" files) or ``label,pixel0,...,pixel783``
(the Kaggle "Digit Recognizer" files); a file without a header also loads. The Digit Recognizer's test.csv
has no labels (``pixel0,...,pixel783``): ``csv_has_labels`` tells the two kinds apart, and ``parse_csv(...,
labelled=False)`` reads it. Parsing is vectorised over the bytes of the file: every cell must be a whole number of
at most three digits, and every line must have 785 cells (784 without labels), or the error says which line and
column is wrong. Files are read as hostile ones: the first line must end within ``MAX_LINE_BYTES`` (checked
before the rest is read), and a file may hold at most ``MAX_DATA_BYTES``.
"""
import os

import numpy as np

from ..files import atomic_write
from .errors import DataError
from .files import CHUNK_SIZE, MAX_DATA_BYTES

COLUMNS = 785
MAX_LINE_BYTES = 1 << 16    # a line of 785 numbers takes at most 3,140 bytes, Kaggle's header about 4,700
COMMA, NEWLINE, ZERO = ord(","), ord("\n"), ord("0")
KAGGLE_HEADER = "label," + ",".join(f"{row}x{col}" for row in range(1, 29) for col in range(1, 29))


def csv_has_labels(data):
    """Whether CSV bytes hold a label before the 784 pixels of each row: by the header ("label" first, or 784
    columns), or for a file without a header by the number of cells in its first line."""
    first_line = bytes(data[:20000]).split(b"\n", 1)[0].strip()
    cells = first_line.split(b",")
    if cells[0].strip().lower() in (b"label", b'"label"'):
        return True
    return len(cells) != COLUMNS - 1


def check_first_line(data, name):
    """Refuse, in one line, data whose first line runs past ``MAX_LINE_BYTES`` (only those bytes are looked at)."""
    if len(data) > MAX_LINE_BYTES and b"\n" not in bytes(data[:MAX_LINE_BYTES + 1]):
        raise DataError(f"{name}: its first line runs past {MAX_LINE_BYTES:,} bytes without ending, and a line of "
                        f"785 numbers takes at most 3,140: not a CSV file of digits")


def read_csv_stream(stream, name):
    """Every byte of a binary stream of CSV, its first line checked (``check_first_line``) before the rest is
    read."""
    data = bytearray(stream.read(MAX_LINE_BYTES + 1))
    check_first_line(data, name)
    while chunk := stream.read(CHUNK_SIZE):
        data += chunk
    return data


def read_csv_data(path):
    """Every byte of a CSV file, once its size (at most ``MAX_DATA_BYTES``) and its first line are checked."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size > MAX_DATA_BYTES:
            raise DataError(f"{path}: {size:,} bytes, more than the {MAX_DATA_BYTES:,} a CSV file of digits may "
                            f"hold for nnscratch")
        check_first_line(file.read(MAX_LINE_BYTES + 1), str(path))
        file.seek(0)
        return file.read()


def parse_csv(data, name="CSV data", labelled=True):
    """Decode CSV bytes into (pixels int64 (N, 784), labels int64 (N,)); with ``labelled=False`` (rows of 784
    pixels only, as the Digit Recognizer's test.csv) the labels are None."""
    check_first_line(data, name)
    columns = COLUMNS if labelled else COLUMNS - 1
    text = np.frombuffer(data, np.uint8)
    text = text[text != ord("\r")]
    first_line_end = int(np.argmax(text == NEWLINE)) if NEWLINE in text else len(text)
    line_offset = 1
    if len(text) and not (ZERO <= text[0] <= ZERO + 9):  # a header line
        header_cells = int(np.count_nonzero(text[:first_line_end] == COMMA)) + 1
        if header_cells != columns:
            raise DataError(f"{name}: the header has {header_cells} columns, expected {columns} "
                            f"({'label and ' if labelled else ''}784 pixels)")
        text, line_offset = text[first_line_end + 1:], 2
    end = len(text)
    while end and text[end - 1] in (NEWLINE, ord(" ")):
        end -= 1
    if end == 0:
        raise DataError(f"{name}: no data rows")
    text = np.append(text[:end], np.uint8(NEWLINE))
    table = _parse_body(text, name, line_offset, columns)
    return (table[:, 1:], table[:, 0]) if labelled else (table, None)


def _locate(text, position, line_offset):
    """1-based line and column of byte ``position``."""
    line = int(np.count_nonzero(text[:position] == NEWLINE))
    line_start = _last(text[:position] == NEWLINE) + 1 if line else 0
    column = int(np.count_nonzero(text[line_start:position] == COMMA)) + 1
    return line + line_offset, column


def _first(mask):
    """The index of the first True in a boolean array, or None when it holds none."""
    return int(np.argmax(mask)) if mask.any() else None


def _last(mask):
    """The index of the last True in a boolean array that holds one."""
    return len(mask) - 1 - int(np.argmax(mask[::-1]))


def _parse_body(text, name, line_offset, columns):
    is_separator = (text == COMMA) | (text == NEWLINE)
    is_digit = (text >= ZERO) & (text <= ZERO + 9)
    bad = _first(~(is_separator | is_digit))
    if bad is not None:
        line, column = _locate(text, bad, line_offset)
        cell_end = bad + int(np.argmax(is_separator[bad:bad + MAX_LINE_BYTES]))
        cell_start = _last(is_separator[:bad]) + 1 if is_separator[:bad].any() else 0
        cell = bytes(text[cell_start:max(cell_end, bad + 1)][:20]).decode("latin-1")
        raise DataError(f"{name}: line {line}, column {column}: {cell!r} is not a whole number 0..255")
    ends = np.flatnonzero(is_separator)
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts
    line_ends = np.flatnonzero(text[ends] == NEWLINE)
    cells_per_line = np.diff(np.concatenate([[-1], line_ends]))
    wrong = np.flatnonzero(cells_per_line != columns)
    if wrong.size:
        raise DataError(f"{name}: line {wrong[0] + line_offset} has {cells_per_line[wrong[0]]} columns, "
                        f"expected {columns} ({'label and ' if columns == COLUMNS else ''}784 pixels)")
    for problem, mask in (("an empty cell", lengths == 0), ("a number above 255", lengths > 3)):
        if mask.any():
            line, column = _locate(text, starts[np.argmax(mask)], line_offset)
            raise DataError(f"{name}: line {line}, column {column} holds {problem}")
    digits = text.astype(np.int16) - ZERO
    values = digits[ends - 1]
    values += np.where(lengths >= 2, 10 * digits[np.maximum(ends - 2, 0)], 0)
    values += np.where(lengths >= 3, 100 * digits[np.maximum(ends - 3, 0)], 0)
    return values.astype(np.int64).reshape(-1, columns)


def read_csv(path, labelled=True):
    """Read a CSV file of MNIST rows: (pixels (N, 784), labels (N,) or None when ``labelled`` is false)."""
    return parse_csv(read_csv_data(path), str(path), labelled)


def encode_csv(x, y, header=KAGGLE_HEADER):
    """Return CSV bytes for uint8 images ``x`` (N, 28, 28) or (N, 784) and labels ``y`` (N,), vectorised."""
    cells = np.concatenate([np.asarray(y, np.int64).reshape(-1, 1),
                            np.asarray(x, np.int64).reshape(len(y), -1)], axis=1)
    if cells.size and (cells.min() < 0 or cells.max() > 999):
        raise DataError(f"CSV writer expected values 0..999, got {cells.min()}..{cells.max()}")
    separators = np.full(cells.shape, COMMA, np.uint8)
    separators[:, -1] = NEWLINE
    values, separators = cells.ravel(), separators.ravel()
    widths = 1 + (values >= 10) + (values >= 100)
    offsets = np.cumsum(widths + 1) - (widths + 1)
    out = np.empty(int((widths + 1).sum()), np.uint8)
    out[offsets + widths] = separators
    out[offsets + widths - 1] = values % 10 + ZERO
    tens = widths >= 2
    out[(offsets + widths - 2)[tens]] = (values[tens] // 10) % 10 + ZERO
    hundreds = widths == 3
    out[offsets[hundreds]] = values[hundreds] // 100 + ZERO
    return (header + "\n").encode() + out.tobytes()


def write_csv(path, x, y, header=KAGGLE_HEADER):
    """Write images and labels as a Kaggle-style CSV file, atomically."""
    with atomic_write(path) as file:
        file.write(encode_csv(x, y, header))
