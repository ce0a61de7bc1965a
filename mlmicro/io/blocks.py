"""Writing predictions block by block: TSV / CSV (optionally gzip) or Parquet."""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mlmicro.io.outputs import check_output
from mlmicro.io.writers import output_extension

__all__ = ["BlockWriter", "check_output_path"]


class BlockWriter:
    """Writes output blocks to an open file: TSV / CSV (optionally gzip) or Parquet."""

    def __init__(self, path: Path, target: Path, columns: Sequence[str]) -> None:
        extension, compress = output_extension(target)
        self.parquet = extension == ".parquet"
        self.first = True
        self.sep = "," if extension == ".csv" else "\t"
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            def kind(c: str) -> Any:
                numeric = c.startswith("probability_") and c != "probability_source"
                if numeric or c.endswith("_shap") or c.endswith("_score"):
                    return pa.float64()
                return pa.bool_() if c.startswith("in_") else pa.string()

            fields = [pa.field(c, kind(c)) for c in columns]
            self.schema = pa.schema(fields)
            self.handle: Any = pq.ParquetWriter(path, self.schema)
        elif compress:
            self._file = open(path, "wb")
            compressed = gzip.GzipFile(filename="", mode="wb", fileobj=self._file, mtime=0)
            self.handle = io.TextIOWrapper(compressed, encoding="utf-8", newline="")
        else:
            self.handle = open(path, "w", encoding="utf-8", newline="")

    def write(self, frame: pd.DataFrame) -> None:
        """Append one block of rows (the header with the first)."""
        if self.parquet:
            import pyarrow as pa

            self.handle.write_table(
                pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
            )
        else:
            frame.to_csv(
                self.handle, sep=self.sep, index=False, header=self.first, lineterminator="\n"
            )
        self.first = False

    def close(self) -> None:
        """Close the file (Parquet: write its footer)."""
        self.handle.close()
        if getattr(self, "_file", None) is not None:
            self._file.close()


def check_output_path(
    output: str | os.PathLike[str], *, force: bool, inputs: Sequence[object] = ()
) -> Path:
    """Check that predictions can be written to ``output`` before any work is done."""
    path = check_output(output, force=force, inputs=[p for p in inputs if _is_path(p)])
    output_extension(path)
    return path


def _is_path(value: object) -> bool:
    return isinstance(value, (str, os.PathLike))
