"""Checks every table passes before it is handed out.

Each check raises :class:`~mlmicro.exceptions.InvalidTableError` with one
sentence naming the problem, the file and the sample or taxon, and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlmicro.exceptions import InvalidTableError

__all__ = [
    "check_not_empty",
    "check_unique",
    "check_values",
    "check_nonzero_samples",
]

_EXAMPLES = 5


def _examples(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_EXAMPLES])
    return shown + (", ..." if len(names) > _EXAMPLES else "")


def check_not_empty(n_samples: int, n_features: int, where: str) -> None:
    """Raise if a table has no samples or no features."""
    if n_samples == 0:
        raise InvalidTableError(
            f"The table in {where} has no samples; give a table with at least one sample "
            "(or check --format and --orientation)."
        )
    if n_features == 0:
        raise InvalidTableError(
            f"The table in {where} has no taxa or features; give a table with at least one "
            "(or check --format and --orientation)."
        )


def check_unique(labels: Sequence[str], kind: str, where: str) -> None:
    """Raise if a sample ID or a raw feature label appears more than once.

    Parameters
    ----------
    labels : sequence of str
        Sample IDs or raw feature labels, in file order.
    kind : {"sample ID", "taxon"}
        What the labels are, for the message.
    where : str
        The file, for the message.
    """
    index = pd.Index(labels)
    if index.is_unique:
        return
    duplicated = index[index.duplicated()].unique().tolist()
    first = duplicated[0]
    positions = [i + 1 for i, label in enumerate(labels) if label == first]
    fix = (
        "give each sample a unique ID"
        if kind == "sample ID"
        else "merge or rename the duplicate rows"
    )
    raise InvalidTableError(
        f"The {kind} {first!r} appears {len(positions)} times in {where} "
        f"(positions {', '.join(map(str, positions[:5]))}"
        f"{'' if len(duplicated) == 1 else f'; {len(duplicated)} duplicated in all'}); {fix}."
    )


def check_values(
    values: np.ndarray, samples: Sequence[str], features: Sequence[str], where: str
) -> None:
    """Raise on the first NaN, infinite or negative value of a samples x features array."""
    finite = np.isfinite(values)
    if not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise InvalidTableError(
            f"Missing or infinite value ({values[i, j]}) in {where} for taxon "
            f"{features[j]!r} and sample {samples[i]!r}; fill it in (0 if the taxon was not "
            "seen) or remove that taxon or sample."
        )
    negative = values < 0
    if negative.any():
        i, j = np.argwhere(negative)[0]
        raise InvalidTableError(
            f"Negative value ({values[i, j]}) in {where} for taxon {features[j]!r} and sample "
            f"{samples[i]!r}; abundances must be counts or proportions >= 0 "
            "(was the table log- or CLR-transformed? give the raw table)."
        )


def check_nonzero_samples(values: np.ndarray, samples: Sequence[str], where: str) -> None:
    """Raise if some samples have no abundance at all, naming them."""
    empty = np.flatnonzero(values.sum(axis=1) == 0)
    if len(empty):
        names = [samples[i] for i in empty]
        raise InvalidTableError(
            f"{len(names)} sample(s) in {where} have no reads or abundance at all "
            f"({_examples(names)}); remove them from the table and read it again."
        )
