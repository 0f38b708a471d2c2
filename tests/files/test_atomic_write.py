import os
import stat

import pytest

from nnscratch.files import atomic_write, current_umask


def test_a_completed_write_replaces_the_file_with_ordinary_permissions(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    with atomic_write(path) as file:
        file.write(b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~current_umask()
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path) as file:
            file.write(b"half of the n")
            raise KeyboardInterrupt
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_the_folder_is_created(tmp_path):
    path = tmp_path / "new" / "deeper" / "model.npz"
    with atomic_write(path) as file:
        file.write(b"new")
    assert path.read_bytes() == b"new"


def test_a_file_that_cannot_be_created_is_named_in_the_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = blocker / "model.json"
    with pytest.raises(OSError) as raised:
        with atomic_write(path) as file:
            file.write(b"never")
    message = str(raised.value)
    assert message == f"cannot write {path}: Not a directory", message
    assert raised.value.strerror == "Not a directory" and ".part" not in message


def test_writing_through_a_symbolic_link_keeps_the_link_and_replaces_its_target(tmp_path):
    target = tmp_path / "store" / "m.npz"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "m.npz"
    link.symlink_to(target)
    with atomic_write(link) as file:
        file.write(b"new")
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert target.read_bytes() == b"new"
    assert sorted(path.name for path in target.parent.iterdir()) == ["m.npz"]  # no temporary file left
