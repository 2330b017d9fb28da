"""The derived tables (rollups): one registry, one entry point for writers, and the check.

- registry.py: every derived table with its source models, incremental refresh, full rebuild
  and staleness (`ROLLUPS`, `rollup(name)`, `rollups_reading(model)`).
- changes.py: `rows_changed(...)`, which every write path calls after writing raw rows, and
  `batched()`, which gathers those calls into one refresh per rollup.
- querysets.py: the source models' QuerySet, whose update / delete / bulk_update / bulk_create
  report what they changed.
- signals.py: single-row saves and deletes (admin, shell, factories) routed to rows_changed.
- check.py: `check_rollups` (recompute and compare, changing nothing) and `rebuild_rollups`.

Imports nothing at package level: models import querysets.py while the app registry loads.
"""
