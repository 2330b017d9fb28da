"""`make bench`: the read endpoints through gunicorn at 1, 8 and 32 clients against their SQL
floors, ingest and export rates, and the scaling curve. Entry point: `python -m scripts.bench`
(scripts/bench/run.py); results in var/bench/results.json and docs/benchmarks.md."""
