"""Class by class: per-class AUROC (one-vs-rest) and the confusion matrix of a model's decisions.

The cross-validated summary (:mod:`mlmicro.model.metrics`) gives one number
per metric; for a multiclass model that number is a macro mean over classes
(one-vs-rest for AUROC). :func:`class_breakdown` says what it averages: the
AUROC of each class against the rest and the confusion matrix at the most
probable class. For a binary model it gives the confusion matrix at the
model's decision threshold. Both are computed from each sample's out-of-fold
probability (its mean over CV repeats), so every sample is counted once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mlmicro.model.trust import Trust, predicted_labels

__all__ = ["ClassBreakdown", "class_breakdown", "confusion_counts", "mean_oof"]


def confusion_counts(
    y_true: Sequence[str], predicted: Sequence[str | None], classes: Sequence[str]
) -> list[list[int]]:
    """Count samples by true class (rows) and predicted class (columns), in ``classes`` order.

    Samples without a prediction (``None``) are not counted.

    Examples
    --------
    >>> confusion_counts(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    [[1, 1], [0, 1]]
    """
    index = {c: i for i, c in enumerate(classes)}
    out = [[0] * len(classes) for _ in classes]
    for truth, guess in zip(y_true, predicted, strict=True):
        if guess is None or truth not in index or guess not in index:
            continue
        out[index[truth]][index[guess]] += 1
    return out


def mean_oof(oof: pd.DataFrame, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's true class and mean out-of-fold probabilities over repeats.

    Returns ``(y, proba)``: ``y`` of shape ``(n_samples,)`` and ``proba`` of
    shape ``(n_samples, n_classes)``, samples in first-appearance order.
    """
    columns = [f"probability_{c}" for c in classes]
    grouped = oof.groupby("sample_id", sort=False)
    proba = grouped[columns].mean().to_numpy(dtype=np.float64)
    y = grouped["y_true"].first().astype(str).to_numpy(dtype=object)
    return y, proba


@dataclass(frozen=True)
class ClassBreakdown:
    """Per-class AUROC and the confusion matrix of the out-of-fold decisions.

    Attributes
    ----------
    classes : tuple of str
        Rows and columns of :attr:`confusion`, in model order.
    confusion : list of list of int
        Samples of each true class (rows) by decided class (columns).
    decision : str
        How the decided class was chosen (``"most probable class"`` or the
        threshold on the positive class's probability).
    threshold : float or None
        The model's decision threshold (binary models).
    per_class_auroc : dict or None
        Multiclass models: AUROC of each class against the rest (``NaN``
        where a class is absent); ``None`` for binary models.
    n_samples : int
        Samples counted (each once).
    source : str
        What was scored.
    """

    classes: tuple[str, ...]
    confusion: list[list[int]]
    decision: str
    threshold: float | None = None
    per_class_auroc: dict[str, float] | None = None
    n_samples: int = 0
    source: str = "out-of-fold probabilities, each sample's mean over CV repeats"

    def frame(self) -> pd.DataFrame:
        """Return the confusion matrix as a table (index: true class, columns: decided class)."""
        return pd.DataFrame(
            self.confusion,
            index=pd.Index(self.classes, name="true class"),
            columns=pd.Index(self.classes, name="predicted class"),
        )

    def format(self) -> list[str]:
        """Plain-text lines for the training summary."""
        lines = []
        if self.per_class_auroc is not None:
            lines.append(f"per-class AUROC (one-vs-rest; {self.source}):")
            for name, value in self.per_class_auroc.items():
                shown = f"{value:.3f}" if np.isfinite(value) else "n/a"
                lines.append(f"  {name:<24}{shown:>8}")
        corner = "true / predicted"
        first = max(len(corner), *(len(c) for c in self.classes)) + 2
        width = max(9, *(len(c) + 2 for c in self.classes))
        lines.append(f"confusion matrix ({self.decision}; {self.source}):")
        lines.append(f"  {corner:<{first}}" + "".join(f"{c:>{width}}" for c in self.classes))
        for name, row in zip(self.classes, self.confusion, strict=True):
            lines.append(f"  {name:<{first}}" + "".join(f"{n:>{width}}" for n in row))
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready plain values."""
        return {
            "classes": list(self.classes),
            "confusion": [list(map(int, row)) for row in self.confusion],
            "decision": self.decision,
            "threshold": self.threshold,
            "per_class_auroc": None
            if self.per_class_auroc is None
            else {
                k: (float(v) if np.isfinite(v) else None) for k, v in self.per_class_auroc.items()
            },
            "auroc_averaging": None if self.per_class_auroc is None else "macro, one-vs-rest",
            "n_samples": self.n_samples,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassBreakdown:
        """Build from :meth:`to_dict` output."""
        aurocs = data.get("per_class_auroc")
        return cls(
            classes=tuple(str(c) for c in data["classes"]),
            confusion=[[int(n) for n in row] for row in data["confusion"]],
            decision=str(data["decision"]),
            threshold=None if data.get("threshold") is None else float(data["threshold"]),
            per_class_auroc=None
            if aurocs is None
            else {str(k): float("nan") if v is None else float(v) for k, v in aurocs.items()},
            n_samples=int(data.get("n_samples") or 0),
            source=str(data.get("source") or ""),
        )


def class_breakdown(
    oof: pd.DataFrame,
    classes: Sequence[str],
    positive_class: str | None,
    trust: Trust | None = None,
) -> ClassBreakdown:
    """Per-class AUROC (multiclass) and the confusion matrix of out-of-fold decisions.

    Parameters
    ----------
    oof : pandas.DataFrame
        Out-of-fold predictions (:attr:`mlmicro.model.training.CVResult.oof`).
    classes : sequence of str
        The model's classes.
    positive_class : str or None
        Binary models: the thresholded class.
    trust : Trust, optional
        The model's calibrator and threshold (binary models): the matrix is
        at the model's decision threshold on calibrated probabilities. That
        threshold was chosen on these same predictions, so the matrix is
        optimistic (the model card's cross-fitted rates are not).

    Returns
    -------
    ClassBreakdown

    Examples
    --------
    >>> oof = pd.DataFrame({"repeat": 0, "fold": 0, "sample_id": ["s1", "s2", "s3"],
    ...     "y_true": ["a", "b", "c"], "probability_a": [0.8, 0.1, 0.3],
    ...     "probability_b": [0.1, 0.8, 0.3], "probability_c": [0.1, 0.1, 0.4]})
    >>> class_breakdown(oof, ["a", "b", "c"], None).confusion
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    """
    classes = [str(c) for c in classes]
    y, proba = mean_oof(oof, classes)
    binary = positive_class is not None and len(classes) == 2
    threshold = None
    if binary and trust is not None and trust.threshold is not None:
        proba = trust.calibrate(proba)
        threshold = float(trust.threshold)
        decided = trust.labels(proba)
        decision = (
            f"at the model's threshold {threshold:.3f} on the calibrated probability of "
            f"{positive_class}, chosen on these predictions (optimistic)"
        )
    else:
        decided = predicted_labels(proba, classes, None, None)
        decision = "at the most probable class"
    per_class = None
    if not binary:
        per_class = {}
        for k, name in enumerate(classes):
            target = (y == name).astype(int)
            ok = ~np.isnan(proba[:, k])
            both = 0 < target[ok].sum() < ok.sum()
            per_class[name] = float(roc_auc_score(target[ok], proba[ok, k])) if both else np.nan
    return ClassBreakdown(
        classes=tuple(classes),
        confusion=confusion_counts(y, decided, classes),
        decision=decision,
        threshold=threshold,
        per_class_auroc=per_class,
        n_samples=int(len(y)),
    )
