"""Checks every table passes before it is handed out.

Each check raises :class:`~mlmicro.exceptions.InvalidTableError` with one
sentence naming the problem, the file and the sample or taxon, and the fix.
Samples with no abundance at all are not an error here: :func:`empty_samples`
names them, and :func:`check_nonzero_samples` refuses them when asked.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlmicro.exceptions import InvalidTableError
from mlmicro.io._limits import MAX_LABEL_CHARS, MAX_VALUE, label_too_long_message

__all__ = [
    "EmptySamplesWarning",
    "warn_empty_samples",
    "check_not_empty",
    "check_labels",
    "check_unique",
    "check_values",
    "check_nonzero_samples",
    "find_empty_samples",
    "empty_samples",
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


def check_labels(labels: Sequence[str], where: str) -> None:
    """Raise if a sample ID or taxon name is longer than ``MAX_LABEL_CHARS`` characters."""
    if max(map(len, labels), default=0) > MAX_LABEL_CHARS:
        label = next(label for label in labels if len(label) > MAX_LABEL_CHARS)
        raise InvalidTableError(label_too_long_message(label, where))


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
    huge = values > MAX_VALUE
    if huge.any():
        i, j = np.argwhere(huge)[0]
        raise _too_large(values[i, j], samples[i], features[j], where)
    check_totals(values, samples, features, where)


def check_totals(
    values: np.ndarray, samples: Sequence[str], features: Sequence[str], where: str
) -> None:
    """Raise if a sample's total is not finite, so that its relative abundances would be 0.

    Parameters
    ----------
    values : numpy.ndarray
        Samples x features, finite and >= 0.
    samples, features : sequence of str
        Labels of the rows and columns, for the message.
    where : str
        The file, for the message.
    """
    with np.errstate(over="ignore"):
        totals = values.sum(axis=1)
    bad = np.flatnonzero(~np.isfinite(totals))
    if len(bad):
        i = int(bad[0])
        j = int(np.argmax(values[i]))
        raise _too_large(values[i, j], samples[i], features[j], where)


def _too_large(value: float, sample: str, feature: str, where: str) -> InvalidTableError:
    return InvalidTableError(
        f"Value {value:.6g} in {where} for taxon {feature!r} and sample {sample!r} is too large: "
        f"values over {MAX_VALUE:.0e} (or sample totals that overflow) make relative "
        "abundances come out as 0; fix that cell (was the table exponentiated or corrupted?)."
    )


def find_empty_samples(values: np.ndarray, samples: Sequence[str]) -> list[str]:
    """Return the samples (rows of ``values``) with no abundance at all, in order."""
    return [samples[i] for i in np.flatnonzero(values.sum(axis=1) == 0)]


class EmptySamplesWarning(UserWarning):
    """Samples without any reads were left out."""


def warn_empty_samples(empty: Sequence[str], what: str, *, stacklevel: int = 3) -> None:
    """Warn (:class:`EmptySamplesWarning`) that ``empty`` samples are left out of ``what``."""
    shown = ", ".join(repr(s) for s in empty[:5]) + (", ..." if len(empty) > 5 else "")
    warnings.warn(
        f"{len(empty)} sample(s) have no reads or abundance at all and are left out of "
        f"{what}: {shown}.",
        EmptySamplesWarning,
        stacklevel=stacklevel,
    )


def empty_samples(table: pd.DataFrame) -> list[str]:
    """Return the IDs of the samples of ``table`` with no reads or abundance at all.

    Real tables have such samples (failed libraries; at a fine rank, samples
    whose reads were all assigned higher up). Readers keep them; a caller
    that cannot use them names and drops them with this function.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples x features, as from :func:`mlmicro.io.read_table`.

    Returns
    -------
    list of str
        Sample IDs, in table order; empty when every sample has abundance.

    Examples
    --------
    >>> table = pd.DataFrame({"k__A": [1.0, 0.0], "k__B": [0.0, 0.0]}, index=["S1", "S2"])
    >>> empty_samples(table)
    ['S2']
    """
    return find_empty_samples(table.to_numpy(dtype=np.float64), table.index.astype(str).tolist())


def check_nonzero_samples(values: np.ndarray, samples: Sequence[str], where: str) -> None:
    """Raise if some samples have no abundance at all, naming them.

    Readers call it only when asked to refuse empty samples
    (``allow_empty_samples=False``); by default they keep them.
    """
    names = find_empty_samples(values, samples)
    if names:
        raise InvalidTableError(
            f"{len(names)} sample(s) in {where} have no reads or abundance at all "
            f"({_examples(names)}); remove them from the table and read it again "
            "(or allow empty samples)."
        )
