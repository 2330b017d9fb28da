"""docs/benchmarks.md and the scaling plot from var/bench/results.json (no Django).

python -m scripts.bench.report [var/bench/results.json]   # rewrite the page from saved results
"""

import json
import sys
import tempfile
from pathlib import Path

from scripts.bench import stats

ROOT = Path(__file__).resolve().parents[2]
PLOT_PNG = "docs/benchmarks-scaling.png"
CHROMIUM = "/usr/bin/chromium"
SQL_PREVIEW_CHARS = 160
PLAN_SQL_CHARS = 3000


def fmt(value, places=1):
    if value is None:
        return "–"
    if isinstance(value, (int, float)) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{places}f}"


def table(headers, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def level_cell(summary):
    """'p50 / p95 / p99' of one concurrency level, or why it has none."""
    if not summary:
        return "–"
    if summary.get("skipped"):
        return f"skipped ({summary['skipped']})"
    text = f"{fmt(summary['p50_ms'])} / {fmt(summary['p95_ms'])} / {fmt(summary['p99_ms'])}"
    return text + (f" ({summary['errors']} err)" if summary.get("errors") else "")


def endpoint_rows(endpoints, levels):
    rows = []
    for entry in endpoints:
        cells = [f"{entry['family']}: {entry['label']}"]
        for level in levels:
            summary = entry["levels"].get(str(level))
            cells += [level_cell(summary), fmt(summary.get("rps")) if summary and not summary.get("skipped") else "–"]
        floor = entry.get("floor") or {}
        cells += [
            fmt(floor.get("p50_ms")),
            fmt(entry.get("floor_ratio"), 2),
            fmt((entry["levels"].get(str(levels[0])) or {}).get("server_cpu_ms"), 1),
            " → ".join(fmt(v) for v in entry.get("load_1min", [])) or "–",
            "yes" if not entry.get("misses") else "**no**",
        ]
        rows.append(cells)
    return rows


def misses_lines(endpoints):
    lines = []
    for entry in endpoints:
        if not entry.get("misses"):
            continue
        floor = entry.get("floor") or {}
        dominant = ""
        if floor.get("slowest_sql"):
            dominant = f"; slowest statement {fmt(floor['slowest_ms'])} ms: `{preview(floor['slowest_sql'], 90)}`"
        lines.append(f"- {entry['family']}: {entry['label']}: {'; '.join(entry['misses'])}{dominant}")
    return lines


def preview(sql, chars=SQL_PREVIEW_CHARS):
    flat = " ".join(sql.split()).replace("|", "\\|").replace("`", "'")
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def machine_lines(results):
    machine, postgres = results["machine"], results.get("postgres", {})
    before, after = machine.get("load_before"), machine.get("load_after")
    settings = ", ".join(f"{name} {value}" for name, value in postgres.items() if name != "server_version")
    return [
        f"- Machine: {machine['platform']}, Python {machine['python']}, {machine['cores']} cores, "
        f"{machine['memory_gib']:.0f} GiB; the same cores run gunicorn, PostgreSQL, the load generator and "
        "whatever else the machine is doing (it is shared).",
        f"- Load average (1/5/15 min): {'/'.join(fmt(v) for v in before)} before, "
        f"{'/'.join(fmt(v) for v in after)} after; each endpoint's 1-minute load is in `results.json`.",
        f"- PostgreSQL {postgres.get('server_version', '?')} on the same machine: {settings}.",
        f"- Run: {results['started_at']} to {results['finished_at']} ({results['elapsed_s'] / 60:.1f} min); "
        f"arguments `{results['argv']}`.",
    ]


def dataset_line(dataset):
    return ", ".join(f"{fmt(value, 0)} {name.replace('_', ' ')}" for name, value in dataset.items())


def render(results):
    levels = results["levels"]
    endpoints = results.get("endpoints", [])
    full = results.get("full", {})
    lines = [
        "# Benchmarks: the read APIs through HTTP, their SQL floors, ingest, export and scaling",
        "",
        "Written by `make bench` (`scripts/bench/`, numbers in `var/bench/results.json`); re-run it to refresh",
        "this page. `BENCH_ARGS` passes options (`--help`: `--families`, `--duration`, `--skip-ingest`,",
        "`--skip-scaling`...).",
        "",
        *machine_lines(results),
        f"- Dataset (`{full.get('database', '?')}`, workspace `{results['workspace']}`): {dataset_line(full.get('dataset', {}))}.",
        f"  Set-up this run: {json.dumps(full.get('setup', {}))} (seconds; generation of the large size",
        "  takes about 12 minutes on this machine when the database is empty, the 1/3 and 1/10 sizes about 5 and 2).",
        "",
        "## How it is measured",
        "",
        "- gunicorn, 2 sync workers, `DEBUG=0`, on 127.0.0.1; the load generator is a second process",
        "  (`scripts/bench/loadgen.py`): N client threads, one HTTP/1.1 connection each (gunicorn's sync workers",
        "  close it after each response; the client reopens it). Each endpoint gets a "
        f"{fmt(results['warmup_s'], 0)} s warm-up at 2 clients,",
        f"  then {fmt(results['duration_s'], 0)} s at each of {', '.join(map(str, levels))} clients: no request starts after that, the ones in",
        "  flight finish and count; requests/s = responses / (start to last response). Latency in ms:",
        "  p50 / p95 / p99. The 32-client level is skipped when",
        f"  the 1-client p50 is over {fmt(results['skip_32_over_ms'], 0)} ms (it would only measure a queue).",
        "- Request variety: each client walks its own stride of a list built from the data (the 20 courses with",
        "  the most enrollments, alternately with the admin API key and the bearer token of one of the course's",
        "  instructors; 100 learners' tokens; 40 videos of those courses; 20 groups; the first 20 pages of the",
        "  360Learning lists; periods and sort orders).",
        "- Floor: the SQL of the first 5 requests of the list, captured with Django's `execute_wrapper` around the",
        "  same request in process, replayed with psycopg on a fresh connection to the same server (each statement",
        "  timed from send to the whole result received, as psql's `\\timing`; writes left out) up to 30 times",
        "  or 6 s; floor p50 = p50 of the summed statement time per request. `p50 / floor` divides the",
        "  1-client p50 by it (target: at most 2).",
        "- Server CPU ms / request: CPU of the gunicorn workers and of their PostgreSQL backends over the 1-client",
        "  run divided by its requests: on a shared machine, what a request costs whatever the wall clock did.",
        f"- Targets: p95 at 8 clients < {fmt(stats.READ_P95_MS_AT_8, 0)} ms for every read endpoint, "
        f"< {fmt(stats.FAST_P95_MS_AT_8, 0)} ms for the learner and course information",
        f"  endpoints; p50 within {fmt(stats.FLOOR_RATIO_MAX, 0)}x of the floor; tracking at least "
        f"{stats.TRACKING_ITEMS_S:,} items/s.",
        "",
    ]
    overhead = results.get("client_overhead")
    if overhead:
        lines += [
            "## The load generator's own cost",
            "",
            "The same client against a server that answers every request at once with a canned 200 (asyncio, one",
            "connection per request as with gunicorn): what is left is the client's and the loopback's.",
            "",
            *table(
                ["clients", "p50 / p95 / p99 ms", "requests/s", "client CPU µs / request"],
                [
                    [level, level_cell(s), fmt(s["rps"]), fmt(s.get("client_cpu_us"), 0)]
                    for level, s in overhead.items()
                ],
            ),
            "",
        ]
    if endpoints:
        headers = ["endpoint"]
        for level in levels:
            headers += [f"{level} client{'s' if level > 1 else ''}: p50 / p95 / p99", "req/s"]
        headers += ["floor p50", "p50 / floor", "server CPU ms / req", "load (1 min)", "targets met"]
        lines += ["## Read endpoints", "", *table(headers, endpoint_rows(endpoints, levels)), ""]
        missed = misses_lines(endpoints)
        lines += ["### Targets not met", ""] + (missed or ["Every read endpoint met its targets in this run."]) + [""]
        lines += [
            "### Floors and the slowest statement of each endpoint",
            "",
            *table(
                [
                    "endpoint",
                    "statements / request",
                    "floor p50 / p95 ms",
                    "slowest statement (median ms)",
                    "statement",
                ],
                [
                    [
                        f"{e['family']}: {e['name']}",
                        fmt(e["floor"]["statements_per_request"]),
                        f"{fmt(e['floor']['p50_ms'])} / {fmt(e['floor']['p95_ms'])}",
                        fmt(e["floor"]["slowest_ms"]),
                        f"`{preview(e['floor']['slowest_sql'] or '')}`",
                    ]
                    for e in endpoints
                    if e.get("floor")
                ],
                ["---", "---:", "---:", "---:", "---"],
            ),
            "",
        ]
    ingest = results.get("ingest")
    if ingest:
        rows = [
            [name, item.get("what", ""), fmt(item.get("rate")), item.get("unit", ""), item.get("note", "")]
            for name, item in ingest.items()
        ]
        lines += [
            "## Ingest",
            "",
            *table(["path", "what", "rate", "unit", "notes"], rows, ["---", "---", "---:", "---", "---"]),
            "",
        ]
    lines += xapi_lines(results.get("xapi"))
    export = results.get("export")
    if export == []:
        lines += [
            "## Export",
            "",
            "`scripts/bench_export.py` gave no result in this run (failed or ran over its time).",
            "",
        ]
    if export:
        rows = [
            [e["format"], fmt(e["rows"], 0), fmt(e["seconds"]), fmt(e["rows_per_s"]), fmt(e["peak_mb"], 0)]
            for e in export
        ]
        lines += [
            "## Export (`scripts/bench_export.py`, its own database of 1M events)",
            "",
            *table(["format", "rows", "seconds", "rows/s", "peak MB"], rows),
            "",
        ]
    lines += scaling_lines(results)
    lines += plan_lines(endpoints)
    return "\n".join(lines) + "\n"


XAPI_POST_TARGET = 3000  # statements/s, batches of 100 from 4 clients (issue 17)
XAPI_GET_TARGET_P95_MS = 50  # GET agent&limit=100 at 8 clients on 2M statements


def xapi_lines(xapi):
    if not xapi:
        return []
    post, one, eight = xapi["post"], xapi["get_1"], xapi["get_8"]
    rows = [
        [
            "POST /xapi/statements, batches of 100 new Open edX-shaped statements (mapping and rollups included), 4 clients",
            f"{fmt(post['rate'])} statements/s",
            f"{XAPI_POST_TARGET:,} statements/s",
            f"{post['errors']} errors; p50 {fmt(post['p50_ms_per_request'])} ms a batch; server CPU {fmt(post['server_cpu_us_per_item'])} µs a statement",
        ],
        [
            "GET /xapi/statements?agent=...&limit=100, 1 client",
            f"p50 {fmt(one['p50_ms'])} / p95 {fmt(one['p95_ms'])} ms",
            "",
            f"{fmt(one['rps'])} req/s, {one['errors']} errors",
        ],
        [
            "GET /xapi/statements?agent=...&limit=100, 8 clients",
            f"p50 {fmt(eight['p50_ms'])} / p95 {fmt(eight['p95_ms'])} ms",
            f"p95 < {XAPI_GET_TARGET_P95_MS} ms",
            f"{fmt(eight['rps'])} req/s, {eight['errors']} errors",
        ],
    ]
    return [
        f"## xAPI LRS (`scripts/bench_xapi.py`, {xapi['stored_statements']:,} stored statements)",
        "",
        *table(["what", "measured", "target", "notes"], rows, ["---", "---:", "---:", "---"]),
        "",
    ]


def scaling_points(results):
    """{endpoint label: [(page sessions, p50 ms at 1 client)]} over every measured size."""
    points = {}
    for size in results.get("scaling", []):
        sessions = size["dataset"].get("page_sessions")
        for key, summary in size["endpoints"].items():
            points.setdefault(key, []).append((sessions, summary.get("p50_ms"), summary.get("p95_ms")))
    return points


def scaling_lines(results):
    sizes = results.get("scaling", [])
    if not sizes:
        return []
    names = [size["size"] for size in sizes]
    headers = ["endpoint (1 client, p50 / p95 ms)"] + [
        f"{s['size']} ({fmt(s['dataset'].get('learners'), 0)} learners)" for s in sizes
    ]
    headers.append("p50 growth, smallest to full")
    rows = []
    for key, points in scaling_points(results).items():
        by_size = {size["size"]: size["endpoints"].get(key) for size in sizes}
        cells = [key] + [
            f"{fmt(by_size[n]['p50_ms'])} / {fmt(by_size[n]['p95_ms'])}" if by_size.get(n) else "–" for n in names
        ]
        grown = stats.growth([(sessions, p50) for sessions, p50, _ in points])
        cells.append(
            f"{fmt(grown['latency_factor'], 2)}x for {fmt(grown['size_factor'], 1)}x the rows" if grown else "–"
        )
        rows.append(cells)
    datasets = "; ".join(f"{s['size']}: {dataset_line(s['dataset'])}" for s in sizes)
    return [
        "## Scaling: the same endpoints at 1/10, 1/3 and full size",
        "",
        f"One client, {fmt(results['scale_duration_s'], 0)} s per endpoint after a warm-up, each size in its own database",
        f"(`generate_demo_data --size large-tenth / large-third / large`). {datasets}.",
        "",
        *table(headers, rows),
        "",
        f"![p50 latency against dataset size]({results['plot']})"
        if results.get("plot")
        else f"(No plot: it needs Debian's Chromium at {CHROMIUM}, `make browser-deps`.)",
        "",
    ]


def plan_lines(endpoints):
    with_plans = [e for e in endpoints if (e.get("floor") or {}).get("slowest_plan")]
    if not with_plans:
        return []
    lines = [
        "## EXPLAIN (ANALYZE, BUFFERS) of each endpoint's slowest statement",
        "",
        "Run once after the replays (warm buffers), on the statement with the highest median time.",
        "",
    ]
    for entry in with_plans:
        floor = entry["floor"]
        sql = floor["slowest_sql"]
        sql = sql if len(sql) <= PLAN_SQL_CHARS else sql[:PLAN_SQL_CHARS] + " …(cut)"
        lines += [
            f"<details><summary>{entry['family']}: {entry['label']} ({fmt(floor['slowest_ms'])} ms)</summary>",
            "",
            "```sql",
            sql,
            "```",
            "",
            "```",
            floor["slowest_plan"],
            "```",
            "",
            "</details>",
            "",
        ]
    return lines


def scaling_figure(results):
    import plotly.graph_objects as go

    from plotly.colors import qualitative

    figure = go.Figure()
    dashes = {}
    for index, (key, points) in enumerate(scaling_points(results).items()):
        points = sorted(p for p in points if p[0] and p[1])
        dash = dashes.setdefault(
            key.split(":")[0], ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")[len(dashes) % 6]
        )
        figure.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="lines+markers",
                name=key,
                line={"color": qualitative.Dark24[index % 24], "dash": dash},
            )
        )
    figure.update_layout(
        title="p50 latency at 1 client against dataset size (page sessions of the workspace)",
        xaxis={"title": "page sessions (1/10, 1/3, full large size)", "type": "log"},
        yaxis={"title": "p50 latency, ms", "type": "log"},
        width=1200,
        height=700,
        template="plotly_white",
        legend={"font": {"size": 10}},
    )
    return figure


def write_plot(results, png_path):
    """The scaling figure as PNG: its HTML rendered by Debian's Chromium (never a downloaded
    browser, never kaleido's). Returns the path, or None when Chromium or Playwright is missing."""
    if not results.get("scaling") or not Path(CHROMIUM).exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    figure = scaling_figure(results)
    with tempfile.TemporaryDirectory() as folder:
        html = Path(folder) / "scaling.html"
        html.write_text(figure.to_html(full_html=True, include_plotlyjs=True), encoding="utf-8")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1220, "height": 720})
            page.goto(html.as_uri())
            page.wait_for_selector(".main-svg")
            page.locator(".plotly-graph-div").screenshot(path=str(png_path))
            browser.close()
    return png_path


def write_report(results, docs_path, plot=True):
    """docs_path and, beside it, the scaling plot (the page links it only when it was drawn)."""
    docs_path = Path(docs_path)
    drawn = write_plot(results, docs_path.parent / Path(PLOT_PNG).name) if plot else None
    docs_path.write_text(render({**results, "plot": drawn.name if drawn else None}), encoding="utf-8")


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "var/bench/results.json")
    write_report(json.loads(source.read_text()), ROOT / "docs/benchmarks.md")
