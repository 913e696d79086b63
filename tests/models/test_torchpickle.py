"""The restricted torch-pickle reader: real torch files in, NumPy out; anything else refused.

``data/tiny_state_dict_{legacy,zip}.pth`` were written by torch 2.13.0 (CPU) with
``torch.save(sd)`` and ``torch.save(sd, _use_new_zipfile_serialization=False)`` from the
state dict that ``_expected()`` rebuilds with NumPy (contiguous, transposed, offset and
strided views of one shared storage, float16, an int64 scalar, an ``nn.Parameter``).
"""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from facecore.models.torchpickle import UnsafePickleError, load_state_dict

DATA = Path(__file__).with_name("data")


def _expected() -> dict[str, np.ndarray]:
    base = np.arange(10, dtype=np.float64) - 4.5
    return {
        "conv.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) / 8,
        "fc.weight_t": np.arange(12, dtype=np.float32).reshape(3, 4).T,
        "shared_a": base[2:6],
        "shared_b": base[::3],
        "half": np.array([0.5, -1.25, 3.0], np.float16),
        "bn.num_batches_tracked": np.array(79999, np.int64),
        "param": np.ones((2, 2), np.float32),
    }


@pytest.mark.parametrize("layout", ["legacy", "zip"])
def test_reads_real_torch_files(layout):
    sd = load_state_dict(DATA / f"tiny_state_dict_{layout}.pth")
    exp = _expected()
    assert list(sd) == list(exp)  # order kept (OrderedDict)
    for k, v in exp.items():
        assert sd[k].dtype == v.dtype and sd[k].shape == v.shape, k
        np.testing.assert_array_equal(sd[k], v, err_msg=k)
        assert sd[k].flags.c_contiguous


def _legacy_file(main_pickle: bytes, keys: list[str] | None = None, data: bytes = b"") -> bytes:
    head = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
    head += pickle.dumps(
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}, protocol=2
    )
    return head + main_pickle + pickle.dumps(keys or [], protocol=2) + data


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"w": _Evil(marker)}, protocol=2)
    # the same payload really runs under plain pickle (so the test can fail)
    pickle.loads(evil)
    assert marker.exists()
    marker.unlink()
    legacy = tmp_path / "evil_legacy.pth"
    legacy.write_bytes(_legacy_file(evil))
    with pytest.raises(UnsafePickleError, match=r"refusing global (posix|os|nt)\.system") as ei:
        load_state_dict(legacy)
    assert isinstance(ei.value, ValueError)
    zipped = tmp_path / "evil_zip.pth"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", evil)
    with pytest.raises(UnsafePickleError, match="refusing global"):
        load_state_dict(zipped)
    assert not marker.exists()


@pytest.mark.parametrize(
    "module,name",
    [
        ("builtins", "eval"),
        ("torch", "load"),
        ("torch._utils", "_rebuild_qtensor"),
        ("collections", "Counter"),
        ("numpy", "frombuffer"),
    ],
)
def test_any_other_global_is_refused(tmp_path, module, name):
    # GLOBAL 'module name', EMPTY_TUPLE, REDUCE, STOP
    p = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R."
    f = tmp_path / "x.pth"
    f.write_bytes(_legacy_file(p))
    with pytest.raises(UnsafePickleError, match=f"refusing global {module}.{name}"):
        load_state_dict(f)


def test_malformed_files(tmp_path):
    real = (DATA / "tiny_state_dict_legacy.pth").read_bytes()
    for i, bad in enumerate([b"", b"not a pickle at all", real[:-5], real[:200]]):
        f = tmp_path / f"bad{i}.pth"
        f.write_bytes(bad)
        with pytest.raises(UnsafePickleError):
            load_state_dict(f)

    # a tensor record that reaches past its storage, written opcode by opcode:
    # OrderedDict(w=_rebuild_tensor_v2(storage(k, 4 floats), offset 2, size (5,), stride (1,), False))
    def u(t: str) -> bytes:
        return b"X" + struct.pack("<I", len(t)) + t.encode()

    main = (
        b"\x80\x02ccollections\nOrderedDict\n)R("
        + u("w")
        + b"ctorch._utils\n_rebuild_tensor_v2\n("
        + b"("
        + u("storage")
        + b"ctorch\nFloatStorage\n"
        + u("k")
        + u("cpu")
        + b"K\x04tQ"
        + b"K\x02K\x05\x85K\x01\x85\x89tRu."
    )
    f = tmp_path / "oob.pth"
    f.write_bytes(
        _legacy_file(main, ["k"], struct.pack("<q", 4) + np.zeros(4, np.float32).tobytes())
    )
    with pytest.raises(UnsafePickleError, match="past the end"):
        load_state_dict(f)
    with pytest.raises(TypeError, match="path"):
        load_state_dict(3)
