"""Links of a paged, sortable table: the current GET parameters with one changed."""

from ..filters import SORTS


def query_string(params, **changes):
    """The current GET parameters with some changed (None removes one); for sort and page links."""
    merged = params.copy()
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = str(value)
    return "?" + merged.urlencode() if merged else "?"


def sort_links(params, current_sort, current_dir):
    """{sort name: (href, aria-sort value)} for sortable column headers."""
    links = {}
    for name in SORTS:
        active = name == current_sort
        next_dir = "asc" if active and current_dir == "desc" else "desc"
        aria = ("descending" if current_dir == "desc" else "ascending") if active else "none"
        links[name] = {"href": query_string(params, sort=name, dir=next_dir, page=None), "aria": aria}
    return links


def pagination(total, page, size, params):
    """The pager of a table of `total` rows, `size` a page, at `page` (clamped to the last)."""
    last = max(1, -(-total // size))
    page = min(page, last)
    return {
        "number": page,
        "count": last,
        "total": total,
        "first_row": (page - 1) * size + 1 if total else 0,
        "last_row": min(page * size, total),
        "previous": query_string(params, page=page - 1) if page > 1 else None,
        "next": query_string(params, page=page + 1) if page < last else None,
    }
