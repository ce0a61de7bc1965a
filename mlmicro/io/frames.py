"""The one check of an in-memory taxa table (a ``DataFrame``) before any step uses it.

Readers check the files they read (:mod:`mlmicro.io._validate`); tables built in
a notebook reach the model through :func:`frame_values`, which applies the
same checks and names the sample, the taxon and where the table came from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmicro.exceptions import InvalidTableError
from mlmicro.io._validate import check_values

__all__ = ["frame_values"]


def frame_values(table: object, where: str = "the table") -> np.ndarray:
    """Return a samples x taxa table's values as float64, refusing what no step can use.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples as rows (sample IDs as the index), taxa as string columns.
    where : str
        Where the table came from (a file name), for messages.

    Returns
    -------
    numpy.ndarray of shape (n_samples, n_taxa)

    Raises
    ------
    InvalidTableError
        If ``table`` is not a DataFrame, has non-string column names, or holds
        non-numeric, missing, infinite or negative values.

    Examples
    --------
    >>> frame_values(pd.DataFrame({"k__B|g__A": [1, 2]}, index=["s1", "s2"]))
    array([[1.],
           [2.]])
    """
    if not isinstance(table, pd.DataFrame):
        raise InvalidTableError(
            "A taxa table must be a pandas DataFrame with samples as rows and taxa as "
            f"columns, not {type(table).__name__}; read files with mlmicro.read_table."
        )
    bad = [c for c in table.columns if not isinstance(c, str)]
    if bad:
        raise InvalidTableError(
            f"Column {bad[0]!r} of {where} is a {type(bad[0]).__name__}, not a taxon name; "
            "taxa tables need string (lineage) column names."
        )
    try:
        values = table.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidTableError(
            f"{where[0].upper()}{where[1:]} has non-numeric values; every cell must be an "
            "abundance (sample IDs belong in the index)."
        ) from err
    check_values(values, [str(s) for s in table.index], [str(c) for c in table.columns], where)
    return values
