"""Merging grouped query results that the database already sorted, without holding them."""

import heapq
import itertools


def merge_sorted_groups(streams, key, defaults):
    """Full outer merge of iterators of dicts, each sorted by `key(row)` and unique per key.

    Yields one dict per key: `defaults`, updated with every stream's row for that key (None
    values do not overwrite a default). Memory holds one row per stream.
    """
    merged = heapq.merge(*streams, key=key)
    for _, parts in itertools.groupby(merged, key=key):
        row = dict(defaults)
        for part in parts:
            row.update({name: value for name, value in part.items() if value is not None})
        yield row
