"""Selecting samples by their metadata: ``--where "EXPR"`` (like QIIME 2's ``--p-where``).

The expression is a :meth:`pandas.DataFrame.query` over the sample metadata,
e.g. ``dataset_name == "metahit"`` or ```Sample type` == "Stool" and Age >= 18``
(backticks around column names with spaces). pandas parses it with its own
restricted grammar: comparisons, ``and`` / ``or`` / ``not``, ``in`` lists and
arithmetic on columns, no Python code.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mlmicro.exceptions import MetadataError

__all__ = ["Selection", "select_samples"]


@dataclass(frozen=True)
class Selection:
    """Which samples an expression kept.

    Attributes
    ----------
    where : str
        The expression.
    kept : pandas.Index
        Sample IDs (as text) that satisfy it, in metadata order.
    n_dropped : int
        Metadata samples that do not.
    """

    where: str
    kept: pd.Index
    n_dropped: int

    def format(self) -> str:
        """One line for the command's output."""
        return f"--where {self.where!r}: kept {len(self.kept)} samples, left out {self.n_dropped}"


def select_samples(
    metadata: pd.DataFrame, where: str, *, source: str = "the metadata"
) -> Selection:
    """Return the samples of ``metadata`` for which ``where`` holds.

    Parameters
    ----------
    metadata : pandas.DataFrame
        Sample metadata indexed by sample ID.
    where : str
        A pandas query expression over its columns.
    source : str
        Where the metadata came from, for messages.

    Returns
    -------
    Selection

    Raises
    ------
    MetadataError
        If the expression does not parse, names an unknown column, is not a
        yes/no condition, or keeps no sample.

    Examples
    --------
    >>> md = pd.DataFrame({"site": ["stool", "biopsy", "stool"]}, index=["a", "b", "c"])
    >>> select_samples(md, 'site == "stool"').kept.tolist()
    ['a', 'c']
    """
    columns = ", ".join(map(str, metadata.columns[:12]))
    try:
        mask = metadata.eval(where, engine="python")
    except pd.errors.UndefinedVariableError as exc:
        raise MetadataError(
            f"--where {where!r} names a column that {source} lacks ({exc}); its columns are: "
            f"{columns} (quote names with spaces in backticks)."
        ) from None
    except Exception as exc:  # pandas raises many types for a malformed expression
        raise MetadataError(
            f"--where {where!r} is not a condition over {source} ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())}); write e.g. --where 'column == \"value\"'."
        ) from None
    if not isinstance(mask, pd.Series) or mask.dtype != bool:
        raise MetadataError(
            f"--where {where!r} does not give yes or no per sample; write a comparison such "
            "as --where 'column == \"value\"'."
        )
    kept = pd.Index(metadata.index[mask.to_numpy()].astype(str), dtype=object, name="sample_id")
    if len(kept) == 0:
        raise MetadataError(
            f"--where {where!r} keeps none of the {len(metadata)} samples of {source}; check "
            "the column's values."
        )
    return Selection(where=where, kept=kept, n_dropped=int(len(metadata) - len(kept)))
