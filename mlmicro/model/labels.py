"""Turn a metadata column into the classification target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from mlmicro.exceptions import MetadataError

__all__ = ["Target", "label_values", "make_target"]


@dataclass(frozen=True)
class Target:
    """The labels a model learns.

    Attributes
    ----------
    y : pandas.Series
        Class label (str) per kept sample, indexed by sample ID.
    classes : list of str
        Class labels in model order (the negative class first for a binary task).
    positive_class : str or None
        The class whose probability AUROC is computed on (binary tasks).
    dropped : list of str
        Samples left out: missing label, or in neither ``positive`` nor ``negative``.
    """

    y: pd.Series
    classes: list[str]
    positive_class: str | None
    dropped: list[str]


def _as_text(values: pd.Series) -> pd.Series:
    """Labels as text; whole numbers read as floats (1.0, a 0/1 column with gaps) become "1"."""
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(float)
        if (numbers == numbers.round()).all():
            return numbers.astype(int).astype(str)
    return values.astype(str).str.strip()


def label_values(metadata: pd.DataFrame, label: str | None) -> pd.Series:
    """Return the non-empty values of column ``label`` as text, indexed by sample ID.

    Raises
    ------
    MetadataError
        If the column is missing.
    """
    if label is None or label not in metadata.columns:
        columns = ", ".join(map(str, metadata.columns[:12]))
        raise MetadataError(
            f"Label column {label!r} is not in the sample metadata (columns: {columns}); "
            "pass --label with one of these."
        )
    raw = metadata[label]
    labelled = raw.notna() & (raw.astype(str).str.strip() != "")
    return _as_text(raw[labelled])


def make_target(
    metadata: pd.DataFrame,
    label: str,
    *,
    positive: Sequence[str] | None = None,
    negative: Sequence[str] | None = None,
) -> Target:
    """Build the target from column ``label`` of the sample metadata.

    Parameters
    ----------
    metadata : pandas.DataFrame
        Sample metadata indexed by sample ID.
    label : str
        Column holding the labels.
    positive, negative : sequence of str, optional
        Values that make up the positive and negative class. With only
        ``positive``, every other labelled sample is negative; with neither, the
        task is multiclass over all values.

    Returns
    -------
    Target

    Raises
    ------
    MetadataError
        If the column is missing, a given value never occurs, or fewer than two
        classes remain.

    Examples
    --------
    >>> md = pd.DataFrame({"dx": ["CD", "UC", "control", None]}, index=list("abcd"))
    >>> t = make_target(md, "dx", positive=["CD", "UC"], negative=["control"])
    >>> t.classes, t.positive_class, t.dropped
    (['control', 'CD+UC'], 'CD+UC', ['d'])
    """
    values = label_values(metadata, label)
    present = set(values)
    for given in [*(positive or []), *(negative or [])]:
        if given not in present:
            raise MetadataError(
                f"Value {given!r} never occurs in column {label!r} (values: "
                f"{', '.join(sorted(present)[:12])}); check --positive/--negative."
            )
    if positive:
        pos_name = "+".join(positive)
        if negative:
            overlap = set(positive) & set(negative)
            if overlap:
                raise MetadataError(
                    f"Value {sorted(overlap)[0]!r} is given as both positive and negative; "
                    "name it once."
                )
            keep = values.isin([*positive, *negative])
            neg_name = "+".join(negative)
        else:
            keep = pd.Series(True, index=values.index)
            neg_name = (
                "other"
                if len(present - set(positive)) > 1
                else next(iter(present - set(positive)), "other")
            )
        values = values[keep]
        y = values.where(values.isin(positive), neg_name).where(~values.isin(positive), pos_name)
        classes = [neg_name, pos_name]
        positive_class: str | None = pos_name
    elif negative:
        raise MetadataError("--negative needs --positive too; name the positive class values.")
    else:
        y = values
        classes = sorted(present)
        positive_class = classes[1] if len(classes) == 2 else None
    counts = y.value_counts()
    if len(counts) < 2:
        raise MetadataError(
            f"Column {label!r} leaves only one class ({', '.join(counts.index)}) after "
            "selection; a classifier needs two or more."
        )
    dropped = [str(s) for s in metadata.index.difference(y.index, sort=False)]
    return Target(
        y=y.astype(object), classes=classes, positive_class=positive_class, dropped=dropped
    )
