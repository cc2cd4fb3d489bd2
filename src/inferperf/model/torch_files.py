"""Reading PyTorch model files (TorchScript archives, exported programs), the safe way for each format.

Model-level knowledge (inputs, outputs, metadata of a file), so ``model.info`` can describe a torch file
without importing a backend; the torch backend loads modules through the same functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inferperf.errors import ModelError, require, runtime_cause
from inferperf.model.specs import ANY_RANK, TORCH_EXPORT, TORCH_PICKLE, TensorSpec

INSTALL_HINT = "pip install 'inferperf[torch]'"
# Written into a TorchScript archive with torch.jit.save(..., _extra_files={META_FILE: json}) it names
# the inputs' shapes and dtypes, which TorchScript itself does not keep.
META_FILE = "inferperf.json"


def import_torch() -> Any:
    """The torch module, or BackendUnavailableError with the install hint."""
    return require("torch", "backend torch is not installed", INSTALL_HINT)


def read_torch_model(path: Path, fmt: str) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...], dict[str, str]]:
    """Inputs, outputs and metadata of a torch model file, loaded the safe way for its format."""
    if fmt == TORCH_PICKLE:
        refuse_pickle(path)
    if fmt == TORCH_EXPORT:
        return _export_specs(load_export(path))
    module, extra = load_script(path)
    return _script_specs(module, extra)


def refuse_pickle(path: Path) -> None:
    """Always raises: a torch.save file is not a model inferperf can run; say why in one line."""
    torch = import_torch()
    try:
        obj = torch.load(str(path), weights_only=True, map_location="cpu")
    except Exception as exc:  # UnpicklingError, or anything a hostile file triggers in the safe unpickler
        raise ModelError(
            f"refusing to load {path}: it is a pickle that weights_only loading rejected "
            f"({type(exc).__name__}); unpickling it could run arbitrary code",
            hint="save the model with torch.jit.save or torch.export.save",
        ) from None
    raise ModelError(
        f"{path} holds only weights ({type(obj).__name__}), not a model to run",
        hint="save the model with torch.jit.save or torch.export.save, or use a zoo: model",
    )


def load_script(path: Path) -> tuple[Any, dict[str, str]]:
    torch = import_torch()
    extra = {META_FILE: ""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as exc:  # torch raises RuntimeError and others for corrupt archives
        raise ModelError(f"cannot load TorchScript archive {path}: {runtime_cause(exc)}") from None
    return module, extra


def load_export(path: Path) -> Any:
    torch = import_torch()
    try:
        return torch.export.load(str(path))
    except Exception as exc:  # torch raises many types for a corrupt or incompatible archive
        raise ModelError(f"cannot load exported program {path}: {runtime_cause(exc)}") from None


def _meta_specs(items: Any, what: str) -> tuple[TensorSpec, ...]:
    try:
        return tuple(TensorSpec(str(d["name"]), str(d.get("dtype", "float32")), tuple(d["shape"])) for d in items)
    except (KeyError, TypeError) as exc:
        raise ModelError(f"{META_FILE} in the TorchScript archive has a malformed {what} entry: {exc!r}") from None


def _script_specs(
    module: Any, extra: dict[str, str]
) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...], dict[str, str]]:
    if extra.get(META_FILE):
        try:
            meta = json.loads(extra[META_FILE])
        except ValueError as exc:
            raise ModelError(f"{META_FILE} in the TorchScript archive is not JSON: {exc}") from None
        outputs = _meta_specs(meta.get("outputs", [{"name": "output", "shape": [ANY_RANK]}]), "output")
        return _meta_specs(meta.get("inputs", []), "input"), outputs, {"inferperf.shapes": "recorded"}
    # TorchScript keeps argument names, not shapes: the user gives them with --shape.
    args = [a.name for a in module.forward.schema.arguments[1:]]
    inputs = tuple(TensorSpec(name, "float32", (ANY_RANK,)) for name in args)
    return inputs, (TensorSpec("output", "float32", (ANY_RANK,)),), {"inferperf.shapes": "not recorded"}


def _fake_spec(name: str, val: Any) -> TensorSpec:
    dims = tuple(d if isinstance(d, int) else "?" for d in (getattr(val, "shape", ()) or ()))
    dtype = str(getattr(val, "dtype", "torch.float32")).removeprefix("torch.")
    return TensorSpec(name, dtype, dims)


def _export_specs(ep: Any) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...], dict[str, str]]:
    sig = ep.graph_signature
    nodes = {n.name: n for n in ep.graph.nodes}
    inputs = tuple(_fake_spec(name, nodes[name].meta.get("val")) for name in sig.user_inputs)
    out_node = next(n for n in ep.graph.nodes if n.op == "output")
    vals = [getattr(a, "meta", {}).get("val") for a in out_node.args[0]]
    n_user = len(sig.user_outputs)
    outputs = tuple(_fake_spec(str(name), val) for name, val in zip(sig.user_outputs, vals[-n_user:], strict=True))
    return inputs, outputs, {}


# ---------------------------------------------------------------- options
