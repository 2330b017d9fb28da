"""Reading interchange JSON lines into (ref, record) pairs for ingest_records."""

import gzip
from dataclasses import dataclass

from config.limits import loads_bounded

from .pipeline import BadRecord


@dataclass(frozen=True, order=True)
class LineRef:
    """Where a record came from: file name (may be empty) and 1-based line number."""

    file: str
    line: int

    def __str__(self):
        return f"{self.file}:{self.line}" if self.file else f"line {self.line}"


def parse_json_line(text):
    """The record of one line (a dict, or whatever JSON it holds), or a BadRecord saying why not."""
    try:
        return loads_bounded(text)
    except ValueError as exc:
        return BadRecord(f"not valid JSON: {getattr(exc, 'msg', exc)}")


def records_from_lines(lines, file=""):
    """(LineRef, record) for each non-blank line of an iterable of text lines."""
    for number, text in enumerate(lines, start=1):
        if text.strip():
            yield LineRef(file, number), parse_json_line(text)


def open_jsonl(path):
    """A text file object for path; .gz files are decompressed."""
    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")
