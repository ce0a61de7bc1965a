"""The classification task: which metadata values make up which class.

One :class:`Task` maps label values to classes everywhere a model meets
labels: training (:func:`make_target`), external validation
(``mlmicro predict --metadata``) and explanations of a labelled cohort. It is
stored in the model card, so a saved model maps a new cohort's labels exactly
as it mapped its training labels.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlmicro.exceptions import MetadataError

__all__ = [
    "CONTROL_VALUES",
    "Target",
    "Task",
    "as_text",
    "is_control",
    "label_values",
    "make_target",
    "subject_units",
]

#: Label values (compared case-insensitively, ignoring ``_``, ``-`` and spaces) that mean
#: "not a case": with a two-valued label and no ``--positive``, such a value is negative.
CONTROL_VALUES: frozenset[str] = frozenset(
    {
        "control",
        "controls",
        "healthy",
        "healthycontrol",
        "healthycontrols",
        "hc",
        "no",
        "n",
        "nonibd",
        "negative",
        "neg",
        "normal",
        "ctrl",
        "ctr",
        "con",
        "none",
        "false",
        "0",
        "h",
        "nondisease",
        "nondiseased",
        "unaffected",
        "nonaffected",
    }
)


def is_control(value: str) -> bool:
    """Whether a label value reads as "control / healthy / not a case".

    Examples
    --------
    >>> [is_control(v) for v in ["Healthy_Control", "nonIBD", "no", "CD", "MS"]]
    [True, True, True, False, False]
    """
    key = "".join(ch for ch in str(value).casefold() if ch not in " _-")
    return key in CONTROL_VALUES or key.startswith(("healthycontrol", "noncase"))


@dataclass(frozen=True)
class Task:
    """Which label values form which class.

    Attributes
    ----------
    label : str
        The metadata column holding the labels.
    classes : tuple of str
        Class names in model order (the negative class first for a binary task).
    positive_class : str or None
        The class binary metrics score (``None`` for a multiclass task).
    positive_values, negative_values : tuple of str
        The label values of the positive and negative class (binary tasks;
        every value seen at training, also those given implicitly as "every
        other value").
    dropped_values : tuple of str
        Values seen at training that belong to no class (left out).
    group, study : str or None
        The subject and study columns used for cross-validation.

    Examples
    --------
    >>> md = pd.DataFrame({"dx": ["CD", "UC", "control", "CD"]}, index=list("abcd"))
    >>> task = make_target(md, "dx", positive=["CD"], negative=["control"]).task
    >>> task.labels(md).tolist()
    ['CD', 'control', 'CD']
    """

    label: str
    classes: tuple[str, ...]
    positive_class: str | None
    positive_values: tuple[str, ...] = ()
    negative_values: tuple[str, ...] = ()
    dropped_values: tuple[str, ...] = ()
    group: str | None = None
    study: str | None = None
    class_counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        """Whether the task has two classes."""
        return len(self.classes) == 2

    @property
    def negative_class(self) -> str | None:
        """The class that is not :attr:`positive_class` (binary tasks)."""
        if not self.binary or self.positive_class is None:
            return None
        return next(c for c in self.classes if c != self.positive_class)

    def to_dict(self) -> dict[str, Any]:
        """Return the task as plain values (the model card's ``task``)."""
        return {
            "label": self.label,
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "positive_values": list(self.positive_values),
            "negative_values": list(self.negative_values),
            "dropped_values": list(self.dropped_values),
            "group": self.group,
            "study": self.study,
            "class_counts": dict(self.class_counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """Build a task from :meth:`to_dict` output."""
        return cls(
            label=str(data["label"]),
            classes=tuple(str(c) for c in data["classes"]),
            positive_class=data.get("positive_class"),
            positive_values=tuple(str(v) for v in data.get("positive_values") or ()),
            negative_values=tuple(str(v) for v in data.get("negative_values") or ()),
            dropped_values=tuple(str(v) for v in data.get("dropped_values") or ()),
            group=data.get("group"),
            study=data.get("study"),
            class_counts={str(k): int(v) for k, v in (data.get("class_counts") or {}).items()},
        )

    def subjects(self, metadata: pd.DataFrame | None) -> pd.Series | None:
        """Subject per sample, from the task's :attr:`group` column of ``metadata``.

        ``None`` when the task was not grouped by subject or the metadata lack
        that column; empty values stay missing (such samples count on their own).

        Examples
        --------
        >>> md = pd.DataFrame({"dx": ["CD", "control"], "pid": ["p1", None]}, index=["a", "b"])
        >>> Task("dx", ("control", "CD"), "CD", group="pid").subjects(md).tolist()
        ['p1', None]
        """
        if metadata is None or self.group is None or self.group not in metadata.columns:
            return None
        values = metadata[self.group]
        return values.astype(object).where(values.notna(), None).rename("subject")

    def labels(
        self,
        metadata: pd.DataFrame,
        label: str | None = None,
        *,
        positive: Sequence[str] | None = None,
        negative: Sequence[str] | None = None,
        where: str = "the sample metadata",
    ) -> pd.Series:
        """Return the class of each labelled sample of (another cohort's) metadata.

        Values map as at training. Values that training left out
        (:attr:`dropped_values`) are left out here too. Any other value is
        refused: another cohort that spells its labels differently names its
        values for the two classes with ``positive`` / ``negative``.

        Parameters
        ----------
        metadata : pandas.DataFrame
            Sample metadata indexed by sample ID.
        label : str, optional
            The label column (default :attr:`label`).
        positive, negative : sequence of str, optional
            This cohort's values of the positive and negative class (binary
            tasks). With only ``positive``, every other value is negative.
        where : str
            Where the metadata came from, for messages.

        Returns
        -------
        pandas.Series
            Class name per labelled sample (indexed by sample ID as text),
            named after the label column.

        Raises
        ------
        MetadataError
            If the column is missing, a value is not one of the task's, or
            ``positive`` / ``negative`` are given for a multiclass task.
        """
        column = label or self.label
        values = label_values(metadata, column)
        if (positive or negative) and not (self.binary and self.positive_class is not None):
            raise MetadataError(
                "--positive/--negative map labels onto a binary model's classes, but this model "
                f"has {len(self.classes)} classes ({', '.join(self.classes)}); leave them out."
            )
        if negative and not positive:
            raise MetadataError("--negative needs --positive too; name the positive class values.")
        if positive:
            pos = [str(v) for v in positive]
            neg = [str(v) for v in negative] if negative else sorted(set(values) - set(pos))
            dropped: list[str] = []
        elif self.positive_values:
            pos, neg = list(self.positive_values), list(self.negative_values)
            dropped = list(self.dropped_values)
        else:
            pos, neg, dropped = [], [], list(self.dropped_values)
        if pos:
            mapping = {v: self.positive_class for v in pos} | {v: self.negative_class for v in neg}
        else:
            mapping = {c: c for c in self.classes}
        unknown = sorted(set(values) - set(mapping) - set(dropped))
        if unknown:
            counts = values.value_counts()
            shown = ", ".join(f"{v!r} ({int(counts[v])})" for v in unknown[:5])
            known = ", ".join(repr(v) for v in mapping)
            fix = (
                f"map them with --positive VALUE (and --negative VALUE) onto {self.positive_class}"
                f" / {self.negative_class}"
                if self.binary and self.positive_class is not None
                else "give labels spelled as the model's classes"
            )
            raise MetadataError(
                f"Column {column!r} of {where} has label values the model does not know: {shown}; "
                f"the model's values are {known}; {fix}."
            )
        y = values[values.isin(list(mapping))].map(mapping)
        y.name = column
        y.index = pd.Index(y.index.astype(str), name="sample_id")
        return y.astype(object)


def _check_spellings(metadata: pd.DataFrame, label: str) -> None:
    """Refuse label values that differ only in case or surrounding space (``CD`` / ``cd``)."""
    if label not in metadata.columns or pd.api.types.is_numeric_dtype(metadata[label]):
        return
    raw = metadata[label].dropna().astype(str)
    raw = raw[raw.str.strip() != ""]
    spellings: dict[str, set[str]] = {}
    for value in raw.unique():
        spellings.setdefault(value.strip().casefold(), set()).add(value)
    clashes = [sorted(v) for v in spellings.values() if len(v) > 1]
    if clashes:
        counts = raw.value_counts()
        shown = "; ".join(
            " / ".join(f"{v!r} ({int(counts[v])})" for v in group) for group in clashes[:3]
        )
        raise MetadataError(
            f"Column {label!r} spells one label in several ways that differ only in case or "
            f"surrounding space: {shown}; make the spellings the same in the metadata."
        )


def _control_first(classes: list[str], label: str) -> list[str]:
    """Order two classes negative first: the control-like value is negative."""
    controls = [c for c in classes if is_control(c)]
    if len(controls) == 1:
        return [controls[0], next(c for c in classes if c != controls[0])]
    which = "both" if controls else "neither"
    raise MetadataError(
        f"Column {label!r} has two values, {classes[0]!r} and {classes[1]!r}, and {which} "
        "reads as a control, so the positive class is ambiguous; name it with --positive "
        f"(e.g. --positive {shlex.quote(str(classes[1]))})."
    )


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
    task : Task
        The value-to-class mapping, for the model card.
    """

    y: pd.Series
    classes: list[str]
    positive_class: str | None
    dropped: list[str]
    task: Task


def as_text(values: pd.Series) -> pd.Series:
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
    return as_text(raw[labelled])


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
        task is multiclass over all values, except for a two-valued label: then
        the control-like value (:func:`is_control`: control, healthy, HC, no,
        nonIBD, ...) is negative and the other positive.

    Returns
    -------
    Target

    Raises
    ------
    MetadataError
        If the column is missing, a given value never occurs, fewer than two
        classes remain, values differ only in case or surrounding space, or a
        two-valued label without ``positive`` has no single control-like value.

    Examples
    --------
    >>> md = pd.DataFrame({"dx": ["CD", "UC", "control", None]}, index=list("abcd"))
    >>> t = make_target(md, "dx", positive=["CD", "UC"], negative=["control"])
    >>> t.classes, t.positive_class, t.dropped
    (['control', 'CD+UC'], 'CD+UC', ['d'])
    """
    _check_spellings(metadata, label)
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
        positive_class = None
        if len(classes) == 2:
            classes = _control_first(classes, label)
            positive_class = classes[1]
    counts = y.value_counts()
    if len(counts) < 2:
        raise MetadataError(
            f"Column {label!r} leaves only one class ({', '.join(counts.index)}) after "
            "selection; a classifier needs two or more."
        )
    dropped = [str(s) for s in metadata.index.difference(y.index, sort=False)]
    if positive:
        pos_values = tuple(positive)
        neg_values = tuple(negative) if negative else tuple(sorted(present - set(positive)))
    elif positive_class is not None:
        pos_values, neg_values = (positive_class,), (classes[0],)
    else:
        pos_values = neg_values = ()
    task = Task(
        label=label,
        classes=tuple(classes),
        positive_class=positive_class,
        positive_values=pos_values,
        negative_values=neg_values,
        dropped_values=tuple(sorted(present - set(pos_values) - set(neg_values) - set(classes))),
        class_counts={str(k): int(v) for k, v in counts.items()},
    )
    return Target(
        y=y.astype(object),
        classes=classes,
        positive_class=positive_class,
        dropped=dropped,
        task=task,
    )


def subject_units(groups: pd.Series, samples: pd.Index) -> np.ndarray:
    """Return the unit of each sample: its subject, or the sample itself when it has none.

    Examples
    --------
    >>> subject_units(pd.Series({"a": "p1", "b": "p1"}), pd.Index(["a", "b", "c"])).tolist()
    ['subject p1', 'subject p1', 'sample c']
    """
    subjects = groups.reindex(samples)
    return np.array(
        [
            f"sample {sample}" if pd.isna(subject) else f"subject {subject}"
            for sample, subject in zip(samples, subjects, strict=True)
        ],
        dtype=object,
    )
