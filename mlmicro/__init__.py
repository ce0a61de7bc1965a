"""mlmicro: predict autoimmune status from microbiome profiles and name the strains behind it.

The notebook API::

    import mlmicro
    table = mlmicro.read_table("profiles.tsv")        # samples x taxa (lineages)
    meta = mlmicro.read_metadata("metadata.tsv")
    model = mlmicro.train(table, meta, label="diagnosis", positive=["CD"], group="subject_id")
    model.save("models/cd.mlmodel")
    model = mlmicro.load_model("models/cd.mlmodel")
    model.predict_proba(new_table)

Names are imported on first use, so ``import mlmicro`` stays fast.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

try:
    __version__ = _version("mlmicro")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

_EXPORTS: dict[str, str] = {
    "MlmicroError": "mlmicro.exceptions",
    "Model": "mlmicro.model.model",
    "TrainConfig": "mlmicro.config",
    "load_config": "mlmicro.config",
    "load_model": "mlmicro.model.model",
    "predict_table": "mlmicro.predict",
    "save_model": "mlmicro.model.bundle",
    "read_metadata": "mlmicro.io",
    "read_metaml": "mlmicro.io",
    "read_table": "mlmicro.io",
    "write_table": "mlmicro.io",
    "train": "mlmicro.model.api",
    "transform_table": "mlmicro.transforms.table",
}

__all__ = [
    "__version__",
    "MlmicroError",
    "Model",
    "TrainConfig",
    "load_config",
    "load_model",
    "predict_table",
    "read_metadata",
    "read_metaml",
    "read_table",
    "save_model",
    "train",
    "transform_table",
    "write_table",
]

if TYPE_CHECKING:  # pragma: no cover
    from mlmicro.config import TrainConfig, load_config
    from mlmicro.exceptions import MlmicroError
    from mlmicro.io import read_metadata, read_metaml, read_table, write_table
    from mlmicro.model.api import train
    from mlmicro.model.bundle import save_model
    from mlmicro.model.model import Model, load_model
    from mlmicro.predict import predict_table
    from mlmicro.transforms.table import transform_table


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlmicro' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
