"""The training cohort a model keeps for explanations, at the model's rank."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from mlmicro.model.insample import row_digests

__all__ = ["TrainingData"]


class TrainingData:
    """The training cohort kept in a bundle, at the model's rank (sparse).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        Samples x taxa abundances after rank collapse, before filtering.
    sample_ids : list of str
    taxa : list of str
        Canonical lineages (the model's input schema).
    y : list of str
        Class label per sample.
    subjects : list of str or None
        Subject of each sample (the training ``group`` column), where samples
        were grouped by subject; ``None`` when every sample was its own unit.
    digests : list of str
        Content digest of each sample's row
        (:func:`mlmicro.model.insample.row_digests`), by which applying the
        model recognises its training samples.

    Examples
    --------
    >>> data = TrainingData(pd.DataFrame({"k__A": [1.0, 0.0]}, index=["s1", "s2"]),
    ...                     pd.Series(["CD", "control"]))
    >>> data.table().shape, data.y
    ((2, 1), ['CD', 'control'])
    """

    def __init__(
        self,
        table: pd.DataFrame,
        y: Sequence[object] | pd.Series,
        subjects: Sequence[object] | pd.Series | None = None,
    ) -> None:
        values = table.to_numpy(dtype=np.float64)
        self.matrix = sparse.csr_matrix(values)
        self.sample_ids = [str(s) for s in table.index]
        self.taxa = [str(c) for c in table.columns]
        self.y = [str(v) for v in y]
        self.subjects = _subjects(subjects, len(self.sample_ids))
        self.digests = list(row_digests(values))

    @classmethod
    def from_parts(
        cls,
        matrix: sparse.csr_matrix,
        sample_ids: Sequence[str],
        taxa: Sequence[str],
        y: Sequence[str],
        subjects: Sequence[str] | None = None,
    ) -> TrainingData:
        """Build from a CSR matrix and its labels (as stored in a bundle), without copying."""
        data = cls.__new__(cls)
        data.matrix = matrix
        data.sample_ids = [str(s) for s in sample_ids]
        data.taxa = [str(t) for t in taxa]
        data.y = [str(v) for v in y]
        data.subjects = _subjects(subjects, len(data.sample_ids))
        # the stored values are exact, so their digests are the training rows' own
        data.digests = list(row_digests(matrix.toarray()))
        return data

    def table(self) -> pd.DataFrame:
        """Return the training table as a dense DataFrame."""
        return pd.DataFrame(
            self.matrix.toarray(),
            index=pd.Index(self.sample_ids, name="sample_id"),
            columns=pd.Index(self.taxa, dtype=object),
        )

    def labels(self) -> pd.Series:
        """Return the class label per training sample."""
        return pd.Series(self.y, index=pd.Index(self.sample_ids, name="sample_id"), name="label")

    def subject_ids(self) -> pd.Series | None:
        """Return the subject of each training sample (``None``: samples were not grouped)."""
        if self.subjects is None:
            return None
        index = pd.Index(self.sample_ids, name="sample_id")
        return pd.Series(self.subjects, index=index, name="subject")


def _subjects(subjects: Sequence[object] | pd.Series | None, n: int) -> list[str] | None:
    if subjects is None:
        return None
    values = [str(v) for v in subjects]
    if len(values) != n:
        raise ValueError(f"{len(values)} subjects for {n} training samples")
    return values
