"""The device XGBoost trains on: the CPU, or a CUDA GPU when there is one.

XGBoost silently falls back to the CPU when ``device="cuda"`` finds no GPU.
:func:`check_device` turns that into a one-line error up front, by checking
that the XGBoost build has CUDA support and fitting one tiny probe model.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import xgboost

from mlmicro.config import TrainConfig
from mlmicro.exceptions import ConfigError, DeviceError

__all__ = ["DEVICES", "check_device", "with_device"]

#: Devices ``--device`` accepts (``cuda:N`` picks a GPU by number).
DEVICES: tuple[str, ...] = ("cpu", "cuda")

_CUDA = re.compile(r"^cuda(:\d+)?$")


def _probe(device: str) -> str:
    """Fit a one-tree model on ``device``; return the device XGBoost actually used."""
    x = np.array([[0.0], [1.0], [0.0], [1.0]], dtype=np.float32)
    with warnings.catch_warnings():
        # XGBoost warns (and falls back to the CPU) when it finds no GPU
        warnings.simplefilter("ignore")
        model = xgboost.XGBClassifier(n_estimators=1, max_depth=1, device=device, n_jobs=1)
        model.fit(x, np.array([0, 1, 0, 1]))
    config = json.loads(model.get_booster().save_config())
    return str(config["learner"]["generic_param"]["device"])


def check_device(device: str) -> str:
    """Check that XGBoost can train on ``device``.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    str
        The device, as XGBoost's ``device`` parameter.

    Raises
    ------
    ConfigError
        If the device is not one of these.
    DeviceError
        If a GPU was asked for but this XGBoost has no CUDA support or no GPU
        is visible.

    Examples
    --------
    >>> check_device("cpu")
    'cpu'
    """
    if device == "cpu":
        return device
    if not _CUDA.match(device):
        raise ConfigError(f"--device must be cpu, cuda or cuda:N; got {device!r}.")
    if not xgboost.build_info().get("USE_CUDA"):
        raise DeviceError(
            f"--device {device}: this XGBoost {xgboost.__version__} was built without CUDA "
            "support; install a CUDA build of XGBoost (the Linux wheels on PyPI are one) or "
            "use --device cpu."
        )
    try:
        used = _probe(device)
    except xgboost.core.XGBoostError as exc:
        reason = " ".join(str(exc).split()[:20])
        raise DeviceError(
            f"--device {device}: no GPU was found ({reason}); run on a machine with an NVIDIA "
            "GPU and driver, or use --device cpu."
        ) from None
    if not used.startswith("cuda"):
        raise DeviceError(
            f"--device {device}: no GPU was found (XGBoost sees no CUDA device); run on a "
            "machine with an NVIDIA GPU and driver, or use --device cpu."
        )
    return device


def with_device(config: TrainConfig, device: str | None) -> TrainConfig:
    """Return ``config`` with XGBoost set to train on ``device`` (checked first).

    ``None`` leaves the configuration as it is.

    Raises
    ------
    ConfigError
        If a GPU is asked for with a classifier other than XGBoost.
    DeviceError
        See :func:`check_device`.
    """
    if device is None:
        return config
    if device != "cpu" and config.model != "xgboost":
        raise ConfigError(
            f"--device {device} applies to XGBoost only; the model is {config.model!r}. "
            "Use --model xgboost or --device cpu."
        )
    checked = check_device(device)
    if config.model != "xgboost":
        return config
    return config.override(xgboost={**config.xgboost, "device": checked})
