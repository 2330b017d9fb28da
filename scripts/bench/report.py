"""docs/benchmarks.md, docs/benchmarks.json and the scaling plot from var/bench/results.json (no Django).

python -m scripts.bench.report [var/bench/results.json]   # rewrite the page and the JSON from saved results
"""

import json
import re
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


MISSES_ANALYSIS = (
    "Why each of these is missed, with its plan and the next step: `docs/benchmarks-misses.md` (written by"
    " hand from a full run; re-read it against this table after a new one)."
)


def writer_alone_lines(writer):
    alone = writer.get("alone") or {}
    if alone.get("machine_busy_cores") is None:
        return []
    return [
        f"  The writer alone, before any reader started ({fmt(alone['seconds'], 0)} s): "
        f"{fmt(alone['machine_busy_cores'], 2)} of {alone['cores']} cores busy, "
        f"{fmt(alone['server_cores'], 2)} of them in gunicorn and PostgreSQL.",
    ]


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


def endpoint_name(entry):
    return f"{entry['family']}: {entry['name']}"


def _levels(levels, keys=("p50", "p95", "rps")):
    """{"8": {"p50", "p95", "rps"}} from results.json's level summaries (skipped levels left out)."""
    picked = {}
    for level, summary in (levels or {}).items():
        if summary and not summary.get("skipped"):
            picked[level] = {key: summary.get("rps" if key == "rps" else f"{key}_ms") for key in keys}
    return picked


def _rate(ingest, name):
    return ((ingest or {}).get(name) or {}).get("rate")


def benchmarks_json(results):
    """docs/benchmarks.json: the issue's shape, from a results.json dict.

    Per endpoint: its levels idle and under the mixed load, its SQL floor p50, the framework
    floor p50 of the run (GET /api/v0/authenticated/ through the same server), its server CPU ms
    per request at 1 client, whether it is light (held to stats.LIGHT_CPU_MS) and its p95 target
    at 8 clients; then the heartbeats, the ingest rates, the freshness p95 and the writer."""
    machine = results.get("machine", {})
    framework = results.get("framework_floor") or {}
    endpoints = []
    for entry in results.get("endpoints", []):
        endpoints.append(
            {
                "name": endpoint_name(entry),
                "label": entry.get("label"),
                "light": stats.is_light(entry["family"], entry["name"]),
                "target_p95_8_ms": stats.target_p95_ms(entry["family"]),
                "idle": _levels(entry.get("levels")),
                "loaded": _levels(entry.get("loaded")),
                "floor_p50_ms": (entry.get("floor") or {}).get("p50_ms"),
                "framework_floor_p50_ms": framework.get("p50_ms"),
                "server_cpu_ms": (entry.get("levels", {}).get("1") or {}).get("server_cpu_ms"),
                "targets_met": not entry.get("misses"),
                "misses": entry.get("misses", []),
            }
        )
    heartbeat = results.get("heartbeat") or {}
    ingest = results.get("ingest")
    freshness = results.get("freshness") or {}
    return {
        "run": {
            "started_at": results.get("started_at_iso", results.get("started_at")),
            "dataset": results.get("size"),
            "load_1min": [(machine.get("load_before") or [None])[0], (machine.get("load_after") or [None])[0]],
            "loaded_machine": results.get("loaded_machine", False),
            "attempt": results.get("attempt", 1),
            "argv": results.get("argv"),
            "duration_s": results.get("duration_s"),
        },
        "framework_floor": {
            "path": "GET /api/v0/authenticated/",
            "p50_ms": framework.get("p50_ms"),
            "server_cpu_ms": framework.get("server_cpu_ms"),
        },
        "endpoints": endpoints,
        "heartbeat": {when: _levels(heartbeat.get(when), ("p50", "p95")) for when in ("idle", "loaded")},
        "writer": results.get("writer"),
        "ingest": {
            "tracking_items_per_s": _rate(ingest, "tracking"),
            "xapi_statements_per_s": _rate(ingest, "xapi"),
            "tracking_logs_lines_per_s": _rate(ingest, "tracking_logs"),
            "import_data_lines_per_s": _rate(ingest, "import_data"),
        },
        "freshness_p95_s": freshness.get("p95_s"),
        "freshness": freshness or None,
    }


def _first_number(cell, index=0):
    """The index-th number of a table cell ("58.8 / 73.5 / 92.0", "2,555"), None when absent."""
    numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", cell)
    return float(numbers[index].replace(",", "")) if len(numbers) > index else None


def numbers_from_json(summary):
    """The 'before' of the next report from a benchmarks.json dict."""
    return {
        "source": f"docs/benchmarks.json of {summary.get('run', {}).get('started_at')}",
        "endpoints": {
            e["name"]: {
                "p95_8_ms": (e.get("idle", {}).get("8") or {}).get("p95"),
                "server_cpu_ms": e.get("server_cpu_ms"),
            }
            for e in summary.get("endpoints", [])
        },
        "heartbeat_p95_8_ms": ((summary.get("heartbeat") or {}).get("idle", {}).get("8") or {}).get("p95"),
        "ingest": summary.get("ingest") or {},
        "freshness_p95_s": summary.get("freshness_p95_s"),
    }


INGEST_ROWS = {
    "tracking": "tracking_items_per_s",
    "xapi": "xapi_statements_per_s",
    "tracking_logs": "tracking_logs_lines_per_s",
    "import_data": "import_data_lines_per_s",
}


def numbers_from_page(text):
    """The 'before' from a benchmarks.md written before benchmarks.json existed: its read endpoints
    table (8-client p95, server CPU ms) keyed by "family: label", and its ingest rates."""
    endpoints, ingest, lines = {}, {}, text.splitlines()
    for index, line in enumerate(lines):
        headers = [cell.strip() for cell in line.strip("|").split("|")]
        at8 = next((i for i, h in enumerate(headers) if h.startswith("8 clients")), None)
        if line.startswith("| endpoint |") and at8 is not None:
            cpu = next((i for i, h in enumerate(headers) if h.startswith("server CPU")), None)
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                cells = [cell.strip() for cell in row.strip("|").split("|")]
                endpoints[cells[0]] = {
                    "p95_8_ms": _first_number(cells[at8], 1),
                    "server_cpu_ms": _first_number(cells[cpu]) if cpu is not None else None,
                }
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("|") and cells[0] in INGEST_ROWS and len(cells) > 2:
            ingest[INGEST_ROWS[cells[0]]] = _first_number(cells[2])
    started = re.search(r"^- Run: (\S+ \S+) UTC", text, re.M)
    return {
        "source": f"docs/benchmarks.md of {started.group(1) if started else '?'}",
        "endpoints": endpoints,
        "heartbeat_p95_8_ms": None,
        "ingest": ingest,
        "freshness_p95_s": None,
    }


def previous_numbers(json_path, md_path):
    """The committed numbers a new run is compared with: docs/benchmarks.json when it exists,
    else the table of docs/benchmarks.md; None when neither is there."""
    if json_path and Path(json_path).exists():
        return numbers_from_json(json.loads(Path(json_path).read_text(encoding="utf-8")))
    if md_path and Path(md_path).exists():
        return numbers_from_page(Path(md_path).read_text(encoding="utf-8"))
    return None


def _before_endpoint(before, entry):
    found = (before or {}).get("endpoints", {})
    return found.get(endpoint_name(entry)) or found.get(f"{entry['family']}: {entry['label']}") or {}


def _met(value, target, below=True):
    if value is None:
        return "–"
    return "yes" if (value < target if below else value >= target) else "**no**"


def target_rows(results, summary, before):
    """The one table of the page: each target, the previous committed number and this run's."""
    rows = []
    for entry, item in zip(results.get("endpoints", []), summary["endpoints"], strict=True):
        was = _before_endpoint(before, entry)
        idle8 = item["idle"].get("8") or {}
        loaded8 = item["loaded"].get("8") or {}
        growth = stats.ratio(loaded8.get("p95"), idle8.get("p95"))
        cpu_target = f"≤ {fmt(stats.LIGHT_CPU_MS, 0)}" if item["light"] else "–"
        rows.append(
            [
                f"{item['name']}{' (light)' if item['light'] else ''}",
                f"p95 < {fmt(item['target_p95_8_ms'], 0)}; loaded ≤ {stats.LOADED_RATIO_MAX}x; CPU {cpu_target}",
                f"{fmt(was.get('p95_8_ms'))} / {fmt(was.get('server_cpu_ms'))}",
                f"{fmt(idle8.get('p95'))} / {fmt(loaded8.get('p95'))} ({fmt(growth, 2)}x)",
                fmt(item["server_cpu_ms"], 2),
                f"{fmt(item['floor_p50_ms'])} / {fmt(item['framework_floor_p50_ms'])}",
                "yes" if item["targets_met"] else "**no**",
            ]
        )
    heartbeat = summary["heartbeat"]
    idle, loaded = heartbeat.get("idle", {}).get("8") or {}, heartbeat.get("loaded", {}).get("8") or {}
    worst = max((v for v in (idle.get("p95"), loaded.get("p95")) if v is not None), default=None)
    rows.append(
        [
            "heartbeat: POST /api/track/page-sessions, one session (8 clients)",
            f"p95 < {fmt(stats.HEARTBEAT_P95_MS, 0)} idle and loaded",
            fmt((before or {}).get("heartbeat_p95_8_ms")),
            f"{fmt(idle.get('p95'))} / {fmt(loaded.get('p95'))}",
            "",
            "",
            _met(worst, stats.HEARTBEAT_P95_MS),
        ]
    )
    targets = {
        "tracking_items_per_s": ("ingest: tracking API, batches of 500 (items/s)", stats.TRACKING_ITEMS_S),
        "xapi_statements_per_s": ("ingest: xAPI statements, batches of 100 (statements/s)", XAPI_POST_TARGET),
        "tracking_logs_lines_per_s": ("ingest: tracking-log import (lines/s)", stats.TRACKING_LOG_LINES_S),
        "import_data_lines_per_s": ("ingest: import_data, first import (lines/s)", stats.IMPORT_DATA_LINES_S),
    }
    for key, (label, target) in targets.items():
        value = summary["ingest"].get(key)
        rows.append(
            [
                label,
                f"≥ {target:,}",
                fmt(((before or {}).get("ingest") or {}).get(key)),
                fmt(value),
                "",
                "",
                _met(value, target, below=False),
            ]
        )
    writer = summary.get("writer") or {}
    freshness = summary.get("freshness") or {}
    rows.append(
        [
            f"freshness under {freshness.get('under', 'the mixed load')}: p95 seconds until visible",
            f"< {fmt(stats.FRESHNESS_P95_S, 0)} s",
            fmt((before or {}).get("freshness_p95_s")),
            fmt(summary.get("freshness_p95_s")),
            "",
            "",
            _met(summary.get("freshness_p95_s"), stats.FRESHNESS_P95_S),
        ]
    )
    rows.append(
        [
            "background writer during the loaded levels (items/s accepted)",
            f"{fmt(writer.get('target_items_per_s'))}" if writer else "–",
            "–",
            fmt(writer.get("items_per_s")),
            "",
            "",
            "",
        ]
    )
    return rows


TARGET_HEADERS = [
    "what",
    "target",
    "before (p95 at 8 ms / CPU ms)",
    "after: p95 at 8 idle / loaded ms (loaded ÷ idle)",
    "server CPU ms / req",
    "SQL floor / framework floor p50 ms",
    "met",
]


def render(results, before=None, summary=None):
    summary = summary or benchmarks_json(results)
    levels = results["levels"]
    endpoints = results.get("endpoints", [])
    full = results.get("full", {})
    loaded_mark = " (**loaded machine**: 1-minute load above 1.5 before start)" if results.get("loaded_machine") else ""
    lines = [
        "# Benchmarks: the read APIs through HTTP, under mixed load, their floors, ingest, export and scaling",
        "",
        "Written by `make bench` (`scripts/bench/`; the summary in `docs/benchmarks.json`, every number in",
        "`var/bench/results.json`); re-run it to refresh this page. `BENCH_ARGS` passes options (`--help`:",
        "`--families`, `--levels`, `--duration`, `--skip-mixed`, `--skip-heartbeat`, `--skip-freshness`,",
        "`--skip-ingest`, `--skip-scaling`, `--repeat-if-loaded N`...). A partial run, e.g.",
        '`make bench BENCH_ARGS="--families learner,course_info --duration 5 --skip-ingest --skip-export',
        '--skip-scaling"`, rewrites both files with what it measured: do not commit those.',
        "",
        f"## Targets: before and after{loaded_mark}",
        "",
        f"Before: {(before or {}).get('source', 'no earlier numbers')}. After: this run, started "
        f"{results['started_at']} (attempt {results.get('attempt', 1)}). CPU = server CPU (gunicorn workers +",
        "their PostgreSQL backends) per request at 1 client; the framework floor is `GET /api/v0/authenticated/`",
        "with an API key through the same server; loaded = the same 8 clients while the background writer runs.",
        "",
        *table(TARGET_HEADERS, target_rows(results, summary, before)),
        "",
        *machine_lines(results),
        f"- Dataset (`{full.get('database', '?')}`, workspace `{results['workspace']}`): {dataset_line(full.get('dataset', {}))}.",
        f"  Set-up this run: {json.dumps(full.get('setup', {}))} (seconds; generation of the large size",
        "  takes about 12 minutes on this machine when the database is empty, the 1/3 and 1/10 sizes about 5 and 2).",
        "",
        "## How it is measured",
        "",
        "- gunicorn as `config/gunicorn.conf.py` sets it (gthread: 2 workers x 4 threads, keep-alive), `DEBUG=0`,",
        "  on 127.0.0.1; the load generator is a second process (`scripts/bench/loadgen.py`): N client threads,",
        "  one kept-alive HTTP/1.1 connection each. Each endpoint gets a "
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
        "- Mixed load: after the idle levels, `scripts/bench/writer.py` (a third process, 4 threads, kept-alive",
        "  connections, the admin API key) sends new page sessions and learning events of up to 5,000 learners",
        "  and every course but one, paced to the writer rate (default 1,000 items/s in batches of 100), while",
        "  each endpoint is measured again at 8 clients; its achieved rate is in the table. The rows it writes",
        "  stay in the database.",
        *writer_alone_lines(results.get("writer") or {}),
        "- Heartbeats: `POST /api/track/page-sessions` with one page session, each learner's own bearer token,",
        "  the same session id re-sent with a growing duration (the tracker's heartbeat), 8 clients, idle and",
        "  under the mixed load.",
        "- Freshness: a new learner of the workspace sends one page session of the course the writer leaves",
        "  alone; `GET /api/user/analytics` (their `totalSessions`) and that course's `GET v0 activity/` of this",
        "  week (`any` + 1) are polled every second until both show it (at most 90 s, counted as 90 s); p95",
        "  over 10 samples, under the mixed load.",
        "- A run whose 1-minute load average before start is above 1.5 is marked **loaded machine** here and in",
        "  `docs/benchmarks.json`; `--repeat-if-loaded N` waits up to 5 minutes for a quieter machine and runs again.",
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
        if missed:
            lines += [MISSES_ANALYSIS, ""]
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


def write_report(results, docs_path, plot=True, before=None, summary=None):
    """docs_path and, beside it, the scaling plot (the page links it only when it was drawn)."""
    docs_path = Path(docs_path)
    drawn = write_plot(results, docs_path.parent / Path(PLOT_PNG).name) if plot else None
    page = render({**results, "plot": drawn.name if drawn else None}, before=before, summary=summary)
    docs_path.write_text(page, encoding="utf-8")


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "var/bench/results.json")
    saved = json.loads(source.read_text())
    summary = benchmarks_json(saved)
    (ROOT / "docs/benchmarks.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    write_report(saved, ROOT / "docs/benchmarks.md", before=saved.get("before"), summary=summary)
