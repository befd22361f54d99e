"""Rows into PostgreSQL by binary COPY: no text for the server to parse, WKB as it is.

Each column travels in the table's own binary form (int4, float8, text, jsonb, date, WKB for
geometry), encoded from Arrow by pgpq. A geometry without an SRID takes the column's (the
catalog's) on the way in, so features need no SRID stamped on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa
from pgpq import ArrowToPostgresBinaryEncoder
from pgpq.encoders import StringEncoderBuilder
from pgpq.schema import Jsonb
from psycopg import Connection as RawConnection

from fupin_gis.db.sql import ident

ARROW = {
    "text": pa.string(),
    "varchar": pa.string(),
    "jsonb": pa.string(),
    "geometry": pa.binary(),
    "bytea": pa.binary(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
}


class BinaryCopy:
    """COPY of frames into one table's ``columns``; types read once from the table."""

    def __init__(self, raw: RawConnection, table: str, columns: Sequence[str]) -> None:
        self.raw, self.table, self.columns = raw, table, list(columns)
        rows = raw.execute(
            "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            (table,),
        ).fetchall()
        types: dict[str, str] = dict(rows)  # type: ignore[arg-type]
        self.kinds = {c: types[c] for c in self.columns}
        fields = [pa.field(c, ARROW[self.kinds[c]]) for c in self.columns]
        self.schema = pa.schema(fields)
        self.encoders = {
            f.name: StringEncoderBuilder.new_with_output(f, Jsonb())
            if self.kinds[f.name] == "jsonb"
            else ArrowToPostgresBinaryEncoder.infer_encoder(f)
            for f in fields
        }

    def batch(self, frame: pd.DataFrame, constants: Mapping[str, object] | None = None) -> pa.RecordBatch:
        """The frame's columns as Arrow, in the table's types (NaN and None are NULL); ``constants``
        give a column one value for every row."""
        constants = constants or {}
        arrays = [
            pa.repeat(pa.scalar(constants[c], f.type), len(frame))
            if c in constants
            else pa.array(frame[c].array, type=f.type, from_pandas=True)
            for c, f in zip(self.columns, self.schema, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def write(self, frame: pd.DataFrame, constants: Mapping[str, object] | None = None) -> None:
        """COPY the frame's rows (in the order of ``columns``)."""
        encoder = ArrowToPostgresBinaryEncoder.new_with_encoders(self.schema, self.encoders)
        with (
            self.raw.cursor() as cur,
            cur.copy(
                f"COPY {ident(self.table)} ({', '.join(ident(c) for c in self.columns)}) FROM STDIN WITH (FORMAT binary)"
            ) as copy,
        ):
            copy.write(encoder.write_header())
            copy.write(encoder.write_batch(self.batch(frame, constants)))
            copy.write(encoder.finish())
