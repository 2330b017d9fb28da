"""Skillhabit "Analyse" results: one row per learner and content, their filters and statistics.

The rows are, by definition:

* attempt rows: each learner's latest attempt of a course (highest version_number), with their
  active enrollment in it: the row takes its type (MANDATORY / OPTIONAL), or NOT_ENROLLED
  without one;
* enrollment rows: active enrollments without any attempt: NOT_STARTED, progress 0.

So every (learner, course) pair with an attempt or an active enrollment appears exactly once.

They are read from the result table courses.Result, one row per (learner, course) with an
attempt or an enrollment, which every write of attempts and enrollments keeps current in its own
transaction (courses/results.py). Joining attempts with enrollments and anti-joining older
versions on every request cost 8-12 microseconds per row in scope (seconds for a whole
workspace; docs/benchmarks-analyse.md); the table turns a page into an index scan. What depends
on the clock (an enrollment that has ended by `now`, a result past its expiry) is decided here,
from stored columns, so rows never go stale as time passes.

The row set is ONE SQL statement, built by `result_rows_sql`; the page, its count and the
statistics all select FROM it. The scope (ORM-compiled id subqueries for learners and courses)
is a CTE of that statement. With a scope, its rows are read in one pass (the page's cut and
its count from the same CTE of keys); without one, in two parts that can follow the
workspace's indexes. A large scope of learners in the default order is both: counted in one
pass, its page read along the workspace's indexes (`_walked_page`). The SQL is plain SQL-92
plus NULLS LAST and FILTER: it runs on PostgreSQL and SQLite alike.

The package, by concern: `filters` (the request's vocabulary: filters, order, page), `scope` (the
learners and courses the rows may belong to), `rows` (the row set's SQL), `pages` (a page and its
total, every row for exports), `statistics` (totals), `lookups` (what a client filters by).
"""

from .filters import (
    CONTENT_TYPE_COURSE,
    ENROLLMENT_TYPES,
    NOT_ENROLLED,
    ORDER_FIELDS,
    RESULT_STATES,
    CustomFieldFilter,
    DateRange,
    Page,
    ResultFilters,
    ResultOrder,
)
from .lookups import analyse_contents, analyse_custom_fields, analyse_groups, analyse_users
from .pages import analyse_results_page, iter_result_rows, result_id
from .rows import COURSE, result_parts_sql, result_rows_sql
from .scope import _learners_matching
from .statistics import BY_CONTENT_LIMIT, analyse_statistics

__all__ = [
    "BY_CONTENT_LIMIT",
    "CONTENT_TYPE_COURSE",
    "COURSE",
    "ENROLLMENT_TYPES",
    "NOT_ENROLLED",
    "ORDER_FIELDS",
    "RESULT_STATES",
    "CustomFieldFilter",
    "DateRange",
    "Page",
    "ResultFilters",
    "ResultOrder",
    "_learners_matching",
    "analyse_contents",
    "analyse_custom_fields",
    "analyse_groups",
    "analyse_results_page",
    "analyse_statistics",
    "analyse_users",
    "iter_result_rows",
    "result_id",
    "result_parts_sql",
    "result_rows_sql",
]
