"""File writers per export format. Each takes rows as tuples in column order, a batch at a time,
and writes to an open binary file, so memory stays flat whatever the row count."""

import codecs
import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone as dt_timezone

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # "string", "int", "float", "bool", "date", "datetime"


def _iso(value):
    if isinstance(value, datetime):
        return value.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


class CsvWriter:
    """UTF-8 with a byte-order mark, so that Excel opens it with the right encoding."""

    extension = "csv"
    content_type = "text/csv; charset=utf-8"

    def __init__(self, stream, columns):
        stream.write(codecs.BOM_UTF8)
        self.text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=False)
        self.csv = csv.writer(self.text, lineterminator="\n")
        self.csv.writerow([column.name for column in columns])

    def write(self, rows):
        self.csv.writerows([[_iso(value) for value in row] for row in rows])

    def close(self):
        self.text.flush()
        self.text.detach()


class JsonWriter:
    """A JSON array of objects keyed by column name, written as it goes."""

    extension = "json"
    content_type = "application/json"

    def __init__(self, stream, columns):
        self.stream = stream
        self.names = [column.name for column in columns]
        self.first = True
        stream.write(b"[")

    def write(self, rows):
        parts = []
        for row in rows:
            record = {name: _iso(value) for name, value in zip(self.names, row)}
            parts.append(("\n" if self.first else ",\n") + json.dumps(record, ensure_ascii=False))
            self.first = False
        self.stream.write("".join(parts).encode())

    def close(self):
        self.stream.write(b"\n]\n")


class XlsxWriter:
    """openpyxl's write-only mode: rows go to disk as they come. Times are written in UTC."""

    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def __init__(self, stream, columns):
        self.stream = stream
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet("export")
        self.sheet.append([column.name for column in columns])

    def write(self, rows):
        for row in rows:
            self.sheet.append(
                [
                    value.astimezone(dt_timezone.utc).replace(tzinfo=None) if isinstance(value, datetime) else value
                    for value in row
                ]
            )

    def close(self):
        self.workbook.save(self.stream)


ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("ms", tz="UTC"),
}


class ParquetWriter:
    """Typed columns; each batch becomes one row group."""

    extension = "parquet"
    content_type = "application/vnd.apache.parquet"

    def __init__(self, stream, columns):
        self.columns = columns
        self.schema = pa.schema([(column.name, ARROW_TYPES[column.type]) for column in columns])
        self.writer = pq.ParquetWriter(stream, self.schema, compression="snappy")

    def write(self, rows):
        if not rows:
            return
        arrays = [
            pa.array([row[index] for row in rows], type=ARROW_TYPES[column.type])
            for index, column in enumerate(self.columns)
        ]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def close(self):
        self.writer.close()


WRITERS = {writer.extension: writer for writer in (CsvWriter, JsonWriter, XlsxWriter, ParquetWriter)}
