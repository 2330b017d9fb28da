"""Each writer produces a file its format's own reader reads back with the same values."""

import csv
import io
import json
from datetime import date, datetime, timezone

import openpyxl
import pyarrow.parquet as pq

from exports.writers import WRITERS, Column

COLUMNS = [
    Column("id", "string"),
    Column("views", "int"),
    Column("rate", "float"),
    Column("done", "bool"),
    Column("day", "date"),
    Column("at", "datetime"),
]
ROWS = [
    ("vidé-1", 3, 0.5, True, date(2026, 3, 1), datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)),
    ("v,2", 0, None, False, date(2026, 3, 2), None),
]


def write(extension, batches):
    stream = io.BytesIO()
    writer = WRITERS[extension](stream, COLUMNS)
    for batch in batches:
        writer.write(batch)
    writer.close()
    return stream.getvalue()


def test_csv_starts_with_bom_and_round_trips():
    content = write("csv", [ROWS[:1], ROWS[1:]])

    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows == [
        ["id", "views", "rate", "done", "day", "at"],
        ["vidé-1", "3", "0.5", "True", "2026-03-01", "2026-03-01T12:30:00.000000Z"],
        ["v,2", "0", "", "False", "2026-03-02", ""],
    ]


def test_json_is_one_array_of_objects():
    records = json.loads(write("json", [ROWS[:1], [], ROWS[1:]]))

    assert records == [
        {
            "id": "vidé-1",
            "views": 3,
            "rate": 0.5,
            "done": True,
            "day": "2026-03-01",
            "at": "2026-03-01T12:30:00.000000Z",
        },
        {"id": "v,2", "views": 0, "rate": None, "done": False, "day": "2026-03-02", "at": None},
    ]


def test_empty_json_export_is_an_empty_array():
    assert json.loads(write("json", [])) == []


def test_xlsx_round_trips_through_openpyxl():
    workbook = openpyxl.load_workbook(io.BytesIO(write("xlsx", [ROWS])), read_only=True)
    values = [list(row) for row in workbook.active.iter_rows(values_only=True)]

    assert values[0] == ["id", "views", "rate", "done", "day", "at"]
    assert values[1][:4] == ["vidé-1", 3, 0.5, True]
    assert values[1][5] == datetime(2026, 3, 1, 12, 30)
    assert values[2][:4] == ["v,2", 0, None, False]


def test_parquet_has_typed_columns():
    table = pq.read_table(io.BytesIO(write("parquet", [ROWS[:1], ROWS[1:]])))

    assert [str(field.type) for field in table.schema] == [
        "string",
        "int64",
        "double",
        "bool",
        "date32[day]",
        "timestamp[ms, tz=UTC]",
    ]
    assert table.column("views").to_pylist() == [3, 0]
    assert table.column("rate").to_pylist() == [0.5, None]
    assert table.column("at").to_pylist()[0] == datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)
