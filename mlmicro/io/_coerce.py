"""Turn metadata read as text into missing values, numbers and strings."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

__all__ = ["coerce_metadata", "PANDAS_MISSING"]

#: Cells read as missing in any metadata file (pandas' defaults).
PANDAS_MISSING = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)


def coerce_metadata(frame: pd.DataFrame, missing: Collection[str] = PANDAS_MISSING) -> pd.DataFrame:
    """Mark missing cells and make numeric-looking columns numeric.

    Parameters
    ----------
    frame : pandas.DataFrame
        Metadata with every cell read as text (``str``, no missing values).
    missing : collection of str
        Cell texts (after stripping white space) that mean "missing".

    Returns
    -------
    pandas.DataFrame
        A new frame: a column whose every present cell is a number becomes
        int64 / float64; other columns are strings with missing cells NaN.
    """
    out = {}
    for column in frame.columns:
        text = frame[column].astype(object).str.strip()
        is_missing = text.isna() | text.isin(missing)
        text = text.mask(is_missing, np.nan)
        present = int((~is_missing).sum())
        numbers = pd.to_numeric(text, errors="coerce")
        if present and int(numbers.notna().sum()) == present:
            out[column] = numbers
        else:
            out[column] = text.astype("str").mask(is_missing, np.nan)
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)
