"""Read a taxa table in blocks of samples, so that memory stays bounded.

:func:`read_table_chunks` returns a :class:`TableChunks`: iterating it yields
samples x taxa ``DataFrame`` blocks exactly like :func:`mlmicro.io.read_table`
would return them (index ``sample_id``, canonical lineage columns, float64,
the same checks), one block of at most ``chunk_size`` samples at a time.

* Tables with **samples as rows** -- TSV / CSV (gzip or bz2 too) and Parquet
  -- are streamed: only one block is in memory at a time (pandas'
  ``read_csv(chunksize=)``, pyarrow's ``iter_batches``).
* Every other layout (taxa as rows, MetaPhlAn, QIIME, BIOM, ``.qza``) holds
  each sample in a column, so the file is read whole with
  :func:`~mlmicro.io.read_table` and handed out in blocks.

A sample ID that appears twice in a streamed file is found when the last
block has been read: iteration then raises
:class:`~mlmicro.exceptions.InvalidTableError` instead of finishing, so a
caller that writes its output only after the loop never writes a partial one.

A streamed text file's encoding is judged from its first MiB (a byte-order
mark, UTF-16, or cp1252 with a :class:`~mlmicro.io.TextEncodingWarning` when
that start is not UTF-8); its header line is held to the line-length limit,
its data rows are not (pandas reads them one block at a time).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from mlmicro.exceptions import InputFileError, InvalidTableError, UnknownFormatError
from mlmicro.io._encoding import decode_head, stream_encoding
from mlmicro.io._limits import MAX_LINE_BYTES, LineGuard
from mlmicro.io._matrix import R_LAYOUT_ROWS, first_bad_cell, ragged_message, split_line
from mlmicro.io._orientation import Orientation, check_orientation, detect_orientation
from mlmicro.io._sniff import header_lines
from mlmicro.io._source import Source, open_source
from mlmicro.io._table import (
    SAMPLE_INDEX_NAME,
    RawTable,
    feature_names,
    sum_same_names,
)
from mlmicro.io._validate import check_labels, check_nonzero_samples, check_unique, check_values
from mlmicro.io.feature_taxonomy import TaxonomyLike, resolve_taxonomy
from mlmicro.io.tables import (
    FORMAT_ALIASES,
    FORMATS,
    detect_source_format,
    read_table,
    supported_formats,
)

__all__ = ["CELLS_PER_CHUNK", "auto_chunk_size", "TableChunks", "read_table_chunks"]

#: Values per block unless told otherwise (80 MB as float64): 10,000 samples of 1,000 taxa.
CELLS_PER_CHUNK = 10_000_000
_MIN_CHUNK, _MAX_CHUNK = 500, 100_000
_HEAD_BYTES = 1 << 20


def auto_chunk_size(n_columns: int) -> int:
    """Return the samples per block that keep a block near :data:`CELLS_PER_CHUNK` values.

    Examples
    --------
    >>> auto_chunk_size(1_000), auto_chunk_size(20_000), auto_chunk_size(50)
    (10000, 500, 100000)
    """
    return int(min(_MAX_CHUNK, max(_MIN_CHUNK, CELLS_PER_CHUNK // max(n_columns, 1))))


def _head(source: Source) -> bytes:
    """Return the first bytes of the content: at least one whole line, when there is one.

    A header wider than the first MiB (samples as rows, tens of thousands of
    lineage columns) is read further, up to the line-length limit.
    """
    size = _HEAD_BYTES
    while True:
        head = source.head(size)
        text = head[len(head) - len(head.lstrip()) :]  # from the first non-blank byte
        if len(head) < size or b"\n" in text or b"\r" in text:
            return head
        if size > MAX_LINE_BYTES:
            LineGuard(source.name, MAX_LINE_BYTES).feed(head)  # raises: the first line is too long
            return head
        size = min(size * 4, MAX_LINE_BYTES + 1)


class TableChunks:
    """A taxa table handed out in blocks of samples; see :func:`read_table_chunks`.

    Attributes
    ----------
    path : str
        The file.
    format : str
        Its format (a key of :data:`mlmicro.io.FORMATS`).
    streamed : bool
        Whether blocks are read one at a time (samples-as-rows TSV / CSV /
        Parquet) rather than from a table read whole.
    n_samples : int or None
        Number of samples, when known before reading (not for streamed text).
    columns : list of str
        The blocks' columns (canonical lineages or feature IDs).
    chunk_size : int
        Samples per block (chosen from the number of columns when not given).
    table : pandas.DataFrame or None
        The whole table, when it was read whole (not streamed).
    """

    def __init__(
        self,
        source: Source,
        name: str,
        *,
        chunk_size: int | None,
        orientation: Orientation,
        taxonomy: Mapping[str, str] | None,
        head: bytes,
        allow_empty_samples: bool = True,
    ) -> None:
        self.path = source.name
        self.format = name
        self.chunk_size = chunk_size
        self.allow_empty_samples = allow_empty_samples
        self._source = source
        self._taxonomy = taxonomy
        self.table: pd.DataFrame | None = None
        self._parquet = None
        self._text: _TextLayout | None = None
        if name in ("tsv", "csv"):
            layout = _TextLayout.from_head(source, name, head, orientation)
            if layout.samples_as_rows:
                self._text = layout
        elif name == "parquet" and source.compression is None:
            self._parquet = _ParquetLayout(source)
        if self._text is not None:
            raw = self._text.features
            self.columns, self.n_samples = self._names(raw), None
        elif self._parquet is not None:
            raw = self._parquet.features
            self.columns, self.n_samples = self._names(raw), self._parquet.n_rows
        else:
            self.table = read_table(
                source.path,
                format=name,
                orientation=orientation,
                taxonomy=taxonomy,
                allow_empty_samples=allow_empty_samples,
            )
            self.columns = [str(c) for c in self.table.columns]
            self.n_samples = len(self.table)
        self.streamed = self.table is None
        if self.chunk_size is None:
            self.chunk_size = auto_chunk_size(len(self.columns))

    def _names(self, raw: list[str]) -> list[str]:
        check_labels(raw, self.path)
        check_unique(raw, "taxon", self.path)
        if not raw:
            raise InvalidTableError(
                f"The table in {self.path} has no taxa or features; give a table with at least "
                "one (or check --format and --orientation)."
            )
        dummy = RawTable(values=np.empty((0, len(raw))), samples=[], features=raw, where=self.path)
        self._raw = raw
        self._named = feature_names(dummy, self._taxonomy)
        return list(dict.fromkeys(self._named))

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """Yield samples x taxa blocks of at most :attr:`chunk_size` samples."""
        if self.table is not None:
            for start in range(0, len(self.table), self.chunk_size):
                yield self.table.iloc[start : start + self.chunk_size]
            return
        hashes: list[np.ndarray] = []
        blocks = (
            self._text.blocks(self.chunk_size)
            if self._text
            else self._parquet.blocks(self.chunk_size)
        )
        n_seen = 0
        for samples, values in blocks:
            n_seen += len(samples)
            yield self._finish(samples, values)
            hashes.append(pd.util.hash_array(np.asarray(samples, dtype=object)))
        if n_seen == 0:
            raise InvalidTableError(
                f"The table in {self.path} has no samples; give a table with at least one sample "
                "(or check --format and --orientation)."
            )
        self._check_repeats(hashes)

    def _finish(self, samples: list[str], values: np.ndarray) -> pd.DataFrame:
        check_labels(samples, self.path)
        check_unique(samples, "sample ID", self.path)
        check_values(values, samples, self._raw, self.path)
        values, columns = sum_same_names(values, self._named)
        if not self.allow_empty_samples:
            check_nonzero_samples(values, samples, self.path)
        return pd.DataFrame(
            values,
            index=pd.Index(samples, dtype="str", name=SAMPLE_INDEX_NAME),
            columns=pd.Index(columns, dtype="str"),
            copy=False,
        )

    def _check_repeats(self, hashes: list[np.ndarray]) -> None:
        every = np.sort(np.concatenate(hashes)) if hashes else np.empty(0, np.uint64)
        if not (every[1:] == every[:-1]).any():
            return
        seen: set[str] = set()
        blocks = (
            self._text.blocks(self.chunk_size)
            if self._text
            else self._parquet.blocks(self.chunk_size)
        )
        for samples, _ in blocks:
            for sample in samples:
                if sample in seen:
                    raise InvalidTableError(
                        f"The sample ID {sample!r} appears more than once in {self.path}; "
                        "give each sample a unique ID."
                    )
                seen.add(sample)


class _TextLayout:
    """Where the header and the data of a delimited file are, and how to read them."""

    def __init__(
        self,
        source: Source,
        sep: str,
        header: list[str],
        skip: int,
        samples_as_rows: bool,
        encoding: str = "utf-8",
    ) -> None:
        self.source = source
        self.encoding = encoding
        self.sep = sep
        self.header = header
        self.skip = skip
        self.samples_as_rows = samples_as_rows
        self.features = [h.strip() for h in header[1:]]

    @classmethod
    def from_head(
        cls, source: Source, name: str, head: bytes, orientation: Orientation
    ) -> _TextLayout:
        text = decode_head(head)
        lines = text.splitlines()
        if len(head) >= _HEAD_BYTES and len(lines) > 1:
            lines = lines[:-1]  # the last line may be cut
        number = next((i for i, line in enumerate(lines) if line.strip()), None)
        if number is None:
            raise InvalidTableError(
                f"{source.name} has no header line; give a table with a header row naming its "
                "columns."
            )
        line = lines[number]
        sep = "\t" if name == "tsv" else (";" if "," not in line and ";" in line else ",")
        header = split_line(line, sep, source.name)
        rows = [
            split_line(row, sep, source.name)
            for row in header_lines("\n".join(lines[number + 1 :]), limit=500)
        ]
        if rows[:R_LAYOUT_ROWS] and all(
            len(row) == len(header) + 1 for row in rows[:R_LAYOUT_ROWS]
        ):
            header = ["", *header]  # R's write.table: no corner cell
        if orientation == "auto":
            cells = [row[0].strip() if row else "" for row in rows]
            orientation = detect_orientation(header[0], header[1:], cells)
        encoding = stream_encoding(head, source.name)
        return cls(source, sep, header, number + 1, orientation == "samples-rows", encoding)

    def _reader(self, chunk_size: int, **kwargs):
        width = len(self.header)
        return pd.read_csv(
            self.source.path,
            sep=self.sep,
            header=None,
            names=list(range(width)),
            skiprows=self.skip,
            na_filter=False,
            skip_blank_lines=True,
            encoding=self.encoding,
            encoding_errors="replace",
            compression=self.source.compression,
            chunksize=chunk_size,
            **kwargs,
        )

    def blocks(self, chunk_size: int) -> Iterator[tuple[list[str], np.ndarray]]:
        width = len(self.header)
        dtypes: dict[int, type] = {j: np.float64 for j in range(1, width)}
        dtypes[0] = object
        start = 0
        # sample IDs as the index: the values then come out as one float block
        with self._reader(chunk_size, dtype=dtypes, index_col=0) as reader:
            while True:
                try:
                    frame = next(reader)
                except StopIteration:
                    return
                except pd.errors.ParserError as err:
                    raise InvalidTableError(ragged_message(self.source, err, width)) from None
                except (ValueError, TypeError):
                    raise self._bad_cell(start, chunk_size) from None
                samples = [str(s).strip() for s in frame.index.tolist()]
                values = frame.to_numpy(dtype=np.float64)
                del frame  # its column arrays; only one copy of a block stays alive
                start += len(samples)
                yield samples, values

    def _bad_cell(self, start: int, chunk_size: int) -> InvalidTableError:
        width = len(self.header)
        with self._reader(chunk_size, dtype=object, index_col=False) as reader:
            for i, text in enumerate(reader):
                if i * chunk_size >= start:
                    error = first_bad_cell(
                        self.source, text, self.header, list(range(1, width)), "samples"
                    )
                    if "could not be read" not in str(error):
                        return error
        return InvalidTableError(
            f"The values of {self.source.name} could not be read as numbers; check the "
            "delimiter, the header and --format."
        )


class _ParquetLayout:
    """A Parquet file's sample-ID column and feature columns, read batch by batch."""

    def __init__(self, source: Source) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.source = source
        try:
            self.file = pq.ParquetFile(source.path)
        except (OSError, ValueError, pa.ArrowException) as err:
            raise InputFileError(
                f"Parquet file {source.name} is truncated or corrupt ({err}); write it again."
            ) from None
        schema = self.file.schema_arrow
        names = list(schema.names)
        index_columns = [
            c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)
        ]
        if SAMPLE_INDEX_NAME in names:
            self.id_column: str | None = SAMPLE_INDEX_NAME
        elif len(index_columns) == 1:
            self.id_column = index_columns[0]
        else:
            self.id_column = None
        skip = {self.id_column, *index_columns}
        self.features = [n for n in names if n not in skip]
        for name in self.features:
            kind = schema.field(name).type
            if not (
                pa.types.is_integer(kind)
                or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind)
                or pa.types.is_decimal(kind)
            ):
                raise InvalidTableError(
                    f"Column {name!r} of {source.name} is not numeric; a table's columns must be "
                    f"abundances, with sample IDs in a {SAMPLE_INDEX_NAME!r} column."
                )
        self.n_rows = int(self.file.metadata.num_rows)

    def blocks(self, chunk_size: int) -> Iterator[tuple[list[str], np.ndarray]]:
        import pyarrow as pa

        start = 0
        columns = self.features + ([self.id_column] if self.id_column else [])
        try:
            for batch in self.file.iter_batches(batch_size=chunk_size, columns=columns):
                frame = batch.select(self.features).to_pandas()
                values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
                if self.id_column:
                    samples = [str(s) for s in batch.column(self.id_column).to_pylist()]
                else:
                    samples = [str(i) for i in range(start, start + batch.num_rows)]
                start += batch.num_rows
                yield samples, values
        except (OSError, pa.ArrowException) as err:
            raise InputFileError(
                f"Parquet file {self.source.name} is truncated or corrupt ({err}); write it again."
            ) from None


def read_table_chunks(
    path: str | os.PathLike[str],
    *,
    chunk_size: int | None = None,
    format: str = "auto",
    orientation: Orientation = "auto",
    taxonomy: TaxonomyLike | None = None,
    allow_empty_samples: bool = True,
) -> TableChunks:
    """Open a taxa table to be read in blocks of samples.

    Parameters
    ----------
    path : str or path-like
        Any table :func:`mlmicro.io.read_table` reads.
    chunk_size : int, optional
        Samples per block; default :func:`auto_chunk_size` of the number of
        columns (about 80 MB of values per block).
    format, orientation, taxonomy, allow_empty_samples
        As for :func:`mlmicro.io.read_table`.

    Returns
    -------
    TableChunks
        Iterate it for samples x taxa blocks; ``.columns`` and ``.streamed``
        are known at once.

    Raises
    ------
    InputFileError, UnknownFormatError, InvalidTableError, TaxonomyError
        As :func:`mlmicro.io.read_table`; errors in a block's values are
        raised when that block is read.

    Examples
    --------
    >>> for block in read_table_chunks("cohort.tsv.gz", chunk_size=5000):  # doctest: +SKIP
    ...     print(block.shape)
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise InvalidTableError(f"chunk_size must be a positive whole number, not {chunk_size!r}.")
    check_orientation(orientation)
    format = FORMAT_ALIASES.get(format, format)
    if format != "auto" and format not in FORMATS:
        raise UnknownFormatError(
            f"Unknown table format {format!r}; use one of: auto, {supported_formats()}."
        )
    source = open_source(path)
    head = _head(source)  # a large .gz is never inflated whole here
    if format == "auto":
        format = detect_source_format(source)
    return TableChunks(
        source,
        format,
        chunk_size=chunk_size,
        orientation=orientation,
        taxonomy=resolve_taxonomy(taxonomy),
        head=head,
        allow_empty_samples=allow_empty_samples,
    )
