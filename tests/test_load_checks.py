"""load() checks a parameter file before it reads any data (issue 11, item 3): member names and
count, declared shapes and dtypes from the .npy headers, the file's size; and every malformed,
truncated or corrupt file ends in a ValueError that names the file."""

from __future__ import annotations

import io
import re
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import build

SPEC = {"inputs": 4, "loss": "cross_entropy",
        "layers": [{"units": 6, "activation": "tanh"}, {"units": 3, "activation": "softmax"}]}


@pytest.fixture
def model() -> object:
    return build(**SPEC)


def _npy(array: np.ndarray | None = None, header: dict[str, object] | None = None, data: bytes | None = None) -> bytes:
    """The bytes of a .npy file: array's, or a hand-written header followed by data."""
    stream = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(stream, array, allow_pickle=False)
        return stream.getvalue()
    np.lib.format.write_array_header_1_0(stream, header)
    return stream.getvalue() + (data or b"")


def _zip(path: Path, members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a repeated name, which is the point
        with zipfile.ZipFile(path, "w", method) as archive:
            for name, content in members:
                archive.writestr(name, content)
    return path


def _members(params: dict[str, np.ndarray]) -> list[tuple[str, bytes]]:
    return [(f"{key}.npy", _npy(value)) for key, value in params.items()]


def _peak_bytes(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as caught:
            action()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _peak_bytes.message = str(caught.value)  # type: ignore[attr-defined]
    return peak


def test_an_extra_member_is_refused_before_it_is_unpacked(model: object, tmp_path: Path) -> None:
    # 50 MB of zeros deflate to about 50 KB: unpacking it first would take 50 MB.
    path = tmp_path / "bomb.npz"
    params = model.init_params()  # type: ignore[attr-defined]
    np.savez_compressed(path, **params, junk=np.zeros(50_000_000, np.uint8))
    assert path.stat().st_size < 200_000
    peak = _peak_bytes(lambda: model.load(path))  # type: ignore[attr-defined]
    assert re.search(r"bomb\.npz: does not fit network .*unexpected keys \['junk'\]", _peak_bytes.message)  # type: ignore[attr-defined]
    assert peak < 1_000_000


def test_a_declared_huge_shape_is_refused_without_allocating(model: object, tmp_path: Path) -> None:
    params = model.init_params()  # type: ignore[attr-defined]
    members = _members(params)
    huge = {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**7)}
    members[0] = ("W1.npy", _npy(header=huge, data=b"\0" * 64))
    path = _zip(tmp_path / "huge.npz", members)
    with pytest.raises(ValueError, match=r"huge\.npz: does not fit network .*params\['W1'\]: expected shape \(4, 6\), "
                                         r"got \(10000000, 10000000\)"):
        model.load(path)  # type: ignore[attr-defined]


def test_a_file_larger_than_the_network_can_fill_is_refused_unread(model: object, tmp_path: Path) -> None:
    path = tmp_path / "large.npz"
    params = model.init_params()  # type: ignore[attr-defined]
    noise = np.random.default_rng(0).integers(0, 255, 5_000_000, dtype=np.uint8)  # does not compress
    np.savez(path, **params, noise=noise)
    peak = _peak_bytes(lambda: model.load(path))  # type: ignore[attr-defined]
    assert re.search(r"large\.npz: not a parameter file written by save \(\d+ bytes, more than", _peak_bytes.message)  # type: ignore[attr-defined]
    assert peak < 1_000_000


@pytest.mark.parametrize("damage", ["truncated", "flipped", "short member", "not zip", "empty"])
def test_damaged_files_give_a_value_error_naming_the_file(damage: str, model: object, tmp_path: Path) -> None:
    path = tmp_path / "damaged.npz"
    params = model.init_params()  # type: ignore[attr-defined]
    model.save(params, path)  # type: ignore[attr-defined]
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":  # a byte of W1's values: the zip's CRC no longer matches
        where = data.index(params["W1"].tobytes()[:8]) + 3
        path.write_bytes(data[:where] + bytes([data[where] ^ 0xFF]) + data[where + 1:])
    elif damage == "short member":  # the header declares 24 values, the member holds 20
        members = _members(params)
        members[0] = ("W1.npy", members[0][1][:-32])
        _zip(path, members)
    elif damage == "not zip":
        path.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    else:
        path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"damaged\.npz: not a parameter file written by save"):
        model.load(path)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("members", "message"), [
    (lambda p: [*_members(p), ("W1.npy", _npy(p["W1"]))], r"repeated keys"),
    (lambda p: [(k, _npy(np.asarray(v * 100, np.int64).reshape(v.shape))) if k.startswith("W1") else (k, b)
                for (k, b), v in zip(_members(p), p.values(), strict=True)],
     r"params\['W1'\]: expected float32 or float64 values, got dtype int64"),
    (lambda p: [("W1.npy", _npy(header={"descr": "|O", "fortran_order": False, "shape": (4, 6)}, data=b"\x80")),
                *_members(p)[1:]], r"params\['W1'\]: expected float32 or float64 values, got dtype object"),
    (lambda p: _members(p)[1:], r"missing keys \['W1'\]"),
])
def test_members_that_do_not_fit_are_named(members: Callable[[dict[str, np.ndarray]], list[tuple[str, bytes]]],
                                           message: str, model: object, tmp_path: Path) -> None:
    path = _zip(tmp_path / "odd.npz", members(model.init_params()))  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"^.*odd\.npz: does not fit network .*" + message):
        model.load(path)  # type: ignore[attr-defined]


def test_compressed_and_fortran_ordered_files_still_load(model: object, tmp_path: Path) -> None:
    params = model.init_params(seed=3)  # type: ignore[attr-defined]
    np.savez_compressed(tmp_path / "packed.npz", **{k: np.asfortranarray(v) for k, v in params.items()})
    loaded = model.load(tmp_path / "packed.npz")  # type: ignore[attr-defined]
    assert all(np.array_equal(loaded[k], params[k]) and loaded[k].flags.c_contiguous for k in params)
    float32 = {k: v.astype(np.float32) for k, v in params.items()}
    np.savez(tmp_path / "narrow.npz", **float32)
    assert model.load(tmp_path / "narrow.npz")["W1"].dtype == np.float32  # type: ignore[attr-defined]
