"""Reads the tensors of a TorchScript archive with NumPy, without torch.

A TorchScript ``.pt`` file is a zip archive holding

* ``<root>/data.pkl``: the module tree, pickled. Submodules are instances of
  ``__torch__.*`` classes whose state is a dict (attributes and child
  modules, in definition order); tensors are
  ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``
  calls whose storage is a persistent id ``("storage", FloatStorage, key,
  device, numel)``;
* ``<root>/data/<key>``: each storage's raw little-endian bytes;
* ``<root>/code/...``: the TorchScript source of every ``forward``.

:func:`read_module_tree` unpickles ``data.pkl`` with a restricted
``Unpickler`` that maps those few globals to NumPy, so nothing from the
archive is ever executed.
"""

import pickle
import zipfile

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}

_LIST_BUILDERS = ("build_intlist", "build_doublelist", "build_boollist", "build_tensorlist")


class ScriptModule:
    """A TorchScript submodule read back as plain data.

    Attributes:
        type_name: the TorchScript class, e.g. ``"__torch__.inceptionv3.Conv2dLayer"``.
        state: dict of attributes: NumPy arrays for tensors, ``ScriptModule``
            for children, plain Python values otherwise (in archive order).
    """

    type_name = "ScriptModule"

    def __init__(self):
        self.state = {}

    def __setstate__(self, state):
        self.state = dict(state)

    def children(self):
        """``(name, ScriptModule)`` pairs of the direct submodules, in order."""
        return [(k, v) for k, v in self.state.items() if isinstance(v, ScriptModule)]

    def tensors(self):
        """``{name: array}`` of this module's own tensors."""
        return {k: v for k, v in self.state.items() if isinstance(v, np.ndarray)}

    def __repr__(self):
        return f"ScriptModule({self.type_name}, keys={list(self.state)})"


class _StorageType:
    def __init__(self, name):
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor(storage, offset, size, stride, *unused):
    """``torch._utils._rebuild_tensor_v2`` for a NumPy storage: a strided view, copied."""
    size, stride = tuple(size), tuple(stride)
    if not size:
        return storage[offset].copy()
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(s * itemsize for s in stride)
    )
    return np.array(view)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *unused):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive, root):
        super().__init__(file)
        self._archive = archive
        self._root = root
        self._storages = {}
        self._classes = {}

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch.jit._pickle" and name in _LIST_BUILDERS:
            return list  # typed lists (e.g. a padding [0, 3]) pickle as build_intlist([...])
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        if module.startswith("__torch__"):
            # NEWOBJ needs a class: one ScriptModule subclass per TorchScript type.
            type_name = f"{module}.{name}"
            if type_name not in self._classes:
                self._classes[type_name] = type(name, (ScriptModule,), {"type_name": type_name})
            return self._classes[type_name]
        raise pickle.UnpicklingError(f"Refusing to load {module}.{name} from a TorchScript archive.")

    def persistent_load(self, pid):
        kind, storage_type, key, _device, numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"Unexpected persistent id {pid!r}.")
        if key not in self._storages:
            raw = self._archive.read(f"{self._root}/data/{key}")
            self._storages[key] = np.frombuffer(raw, dtype=storage_type.dtype, count=numel)
        return self._storages[key]


def read_module_tree(path):
    """The module tree of a TorchScript archive.

    Args:
        path: a TorchScript ``.pt`` file (as written by ``torch.jit.save``).

    Returns:
        The root :class:`ScriptModule`.

    Raises:
        ValueError: ``path`` is not a zip archive with a ``data.pkl``.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"Expected a TorchScript archive (a zip file) at {path!r}: {error}") from error
    with archive:
        roots = [name[: -len("/data.pkl")] for name in archive.namelist() if name.endswith("/data.pkl")]
        if len(roots) != 1:
            raise ValueError(f"Expected one data.pkl in the TorchScript archive {path!r}, found {len(roots)}.")
        with archive.open(f"{roots[0]}/data.pkl") as file:
            return _Unpickler(file, archive, roots[0]).load()


def read_source(path, name):
    """The TorchScript source file ``code/__torch__/<name>`` of an archive, as text."""
    with zipfile.ZipFile(path) as archive:
        matches = [n for n in archive.namelist() if n.endswith(f"/code/__torch__/{name}")]
        if not matches:
            raise ValueError(f"No code/__torch__/{name} in the TorchScript archive {path!r}.")
        return archive.read(matches[0]).decode("utf-8")
