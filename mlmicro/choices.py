"""The named choices mlmicro offers, and the one set of defaults every layer uses.

Configuration files, the command line, tuning grids and the docs read the names
here; each implementation registry (classifier factories in
:mod:`mlmicro.model.estimators`, transforms in :mod:`mlmicro.transforms.table`,
zero replacement in :mod:`mlmicro.transforms.zeros`, ranks in
:mod:`mlmicro.taxonomy`) is keyed by exactly these names, which a test checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from mlmicro.exceptions import ConfigError

__all__ = [
    "CLASSIFIERS",
    "TRANSFORMS",
    "ZERO_METHODS",
    "DEFAULT_CLASSIFIER",
    "DEFAULT_TRANSFORM",
    "DEFAULT_ZEROS",
    "DEFAULT_MIN_PREVALENCE",
    "ClassifierName",
    "TransformName",
    "ZerosName",
    "check_choice",
]

ClassifierName = Literal["xgboost", "random-forest", "logistic-l1"]
TransformName = Literal["relative", "log", "clr", "alr", "ilr"]
ZerosName = Literal["multiplicative", "pseudocount"]

#: Classifiers, with what each is.
CLASSIFIERS: Mapping[str, str] = MappingProxyType(
    {
        "xgboost": "XGBoost boosted forest (exact TreeSHAP explanations)",
        "random-forest": "scikit-learn random forest",
        "logistic-l1": "L1-penalised logistic regression on standardised features",
    }
)
#: Compositional transforms of a filtered table.
TRANSFORMS: Mapping[str, str] = MappingProxyType(
    {
        "relative": "relative abundance (proportions)",
        "log": "log relative abundance after zero replacement",
        "clr": "centred log-ratio after zero replacement",
        "alr": "additive log-ratio to a reference taxon chosen in fit",
        "ilr": "isometric log-ratio (balances)",
    }
)
#: Zero replacement before log and log-ratio transforms.
ZERO_METHODS: Mapping[str, str] = MappingProxyType(
    {
        "multiplicative": "multiplicative replacement (Martín-Fernández et al. 2003)",
        "pseudocount": "a pseudocount learned in fit (half the smallest non-zero share)",
    }
)

#: The classifier trained when none is named.
DEFAULT_CLASSIFIER: ClassifierName = "xgboost"
#: The transform of training when none is named (trees need none).
DEFAULT_TRANSFORM: TransformName = "relative"
#: Zero replacement everywhere one is needed and none is named: the compositional
#: standard, and what scikit-bio's ``multiplicative_replacement`` does.
DEFAULT_ZEROS: ZerosName = "multiplicative"
#: The prevalence filter of training when none is named (fitted inside each fold).
DEFAULT_MIN_PREVALENCE: float = 0.0


def check_choice(kind: str, value: object, choices: Mapping[str, str] | tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise one line naming them.

    Examples
    --------
    >>> check_choice("transform", "clr", TRANSFORMS)
    'clr'
    """
    if value not in choices:
        raise ConfigError(f"Unknown {kind} {value!r}; use one of: {', '.join(choices)}.")
    return str(value)
