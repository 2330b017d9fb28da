"""The arithmetic of `make bench`'s report (scripts/bench/stats.py, report.py) on numbers made here."""

import pytest

from scripts.bench import report, stats


def test_percentile_interpolates_between_ranks_like_percentile_cont():
    values = [40, 10, 30, 20]  # sorted: 10 20 30 40; rank of p50 = 1.5, of p95 = 2.85
    assert stats.percentile(values, 50) == 25
    assert stats.percentile(values, 95) == pytest.approx(30 + 0.85 * 10)
    assert stats.percentile(values, 0) == 10
    assert stats.percentile(values, 100) == 40


def test_percentile_of_one_value_and_of_none():
    assert stats.percentile([7.5], 99) == 7.5
    assert stats.percentile([], 50) is None
    with pytest.raises(ValueError):
        stats.percentile([1], 101)


def test_summary_counts_only_2xx_and_divides_by_the_window():
    # 100 successes of 1..100 ms, 3 errors (a 500, a 404 and a refused connection), 4 s window
    samples = [(i * 0.01, (i + 1) / 1000, 200) for i in range(100)] + [(0, 5, 500), (0, 5, 404), (0, 0.001, 0)]
    summary = stats.summarize_samples(samples, 4.0)
    assert summary["requests"] == 100
    assert summary["errors"] == 3
    assert summary["rps"] == 25.0
    assert summary["p50_ms"] == 50.5  # ranks 49 and 50 of 1..100
    assert summary["p95_ms"] == 95.05  # rank 94.05
    assert summary["p99_ms"] == 99.01
    assert summary["mean_ms"] == 50.5
    assert summary["max_ms"] == 100


def test_ratio_and_rate_refuse_missing_or_zero_denominators():
    assert stats.ratio(30, 12) == 2.5
    assert stats.ratio(30, 0) is None
    assert stats.ratio(None, 12) is None
    assert stats.rate(12_500, 2.5) == 5000.0
    assert stats.rate(10, 0) is None


def test_targets_depend_on_the_family():
    def entry(family, p95_at_8, floor_ratio):
        return {"family": family, "levels": {"8": {"p95_ms": p95_at_8, "errors": 0}}, "floor_ratio": floor_ratio}

    assert stats.check_targets(entry("analyse", 99.0, 2.0)) == []
    assert stats.check_targets(entry("analyse", 100.0, 1.0)) == ["p95 at 8 clients 100 ms >= 100 ms"]
    assert stats.check_targets(entry("learner", 31.0, 2.5)) == [
        "p95 at 8 clients 31 ms >= 30 ms",
        "p50 is 2.5x its floor (> 2x)",
    ]
    assert stats.check_targets(entry("course_info", 29.9, None)) == []


def test_growth_compares_the_largest_size_with_the_smallest():
    assert stats.growth([(5_000_000, 30.0), (500_000, 10.0), (1_666_666, 20.0)]) == {
        "latency_factor": 3.0,
        "size_factor": 10.0,
    }
    assert stats.growth([(500_000, 10.0)]) is None


def test_report_row_shows_levels_floor_ratio_and_verdict():
    entry = {
        "family": "learner",
        "label": "GET /api/user/analytics",
        "floor_ratio": 1.25,
        "misses": [],
        "load_1min": [1.52, 2.0],
        "floor": {"p50_ms": 4.0},
        "levels": {
            "1": {"p50_ms": 5.0, "p95_ms": 6.0, "p99_ms": 7.0, "rps": 190.0, "errors": 0, "server_cpu_ms": 4.2},
            "8": {"p50_ms": 9.0, "p95_ms": 20.0, "p99_ms": 25.5, "rps": 420.0, "errors": 2},
            "32": {"skipped": "1-client p50 over 1000 ms"},
        },
    }
    (row,) = report.endpoint_rows([entry], [1, 8, 32])
    assert row == [
        "learner: GET /api/user/analytics",
        "5.0 / 6.0 / 7.0",
        "190.0",
        "9.0 / 20.0 / 25.5 (2 err)",
        "420.0",
        "skipped (1-client p50 over 1000 ms)",
        "–",
        "4.0",
        "1.25",
        "4.2",
        "1.5 → 2.0",
        "yes",
    ]


def test_targets_not_met_lists_each_endpoint_once_with_its_slowest_statement():
    entries = [
        {
            "family": "analyse",
            "label": "POST /analyse/statistics",
            "misses": ["p95 at 8 clients 250 ms >= 100 ms", "p50 is 3.0x its floor (> 2x)"],
            "floor": {"slowest_ms": 120.0, "slowest_sql": 'SELECT  "x"\n FROM t'},
        },
        {"family": "learner", "label": "GET /api/user/analytics", "misses": [], "floor": {}},
    ]
    assert report.misses_lines(entries) == [
        "- analyse: POST /analyse/statistics: p95 at 8 clients 250 ms >= 100 ms; p50 is 3.0x its floor (> 2x); "
        'slowest statement 120.0 ms: `SELECT "x" FROM t`'
    ]
