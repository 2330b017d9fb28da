"""`make bench`'s mixed-load parts on numbers and servers made here: the writer's pacing and
batches, the heartbeat requests, the load generator's kept-alive connections and counter, the
benchmarks.json shape and the 'before' read from the committed page."""

import http.server
import json
import threading
import uuid

import pytest

from scripts.bench import loadgen, report, stats, writer
from scripts.bench.run import HEARTBEAT_TOKEN, heartbeat_requests


def test_writer_batches_are_due_at_the_rate_shared_by_its_threads():
    # 1,000 items/s in batches of 50 from 2 threads: each thread sends 10 batches/s, one every 0.1 s
    assert [writer.batch_due_s(k, 50, 1000, 2) for k in range(4)] == pytest.approx([0, 0.1, 0.2, 0.3])
    # one thread alone carries the whole rate: 20 batches/s
    assert writer.batch_due_s(20, 50, 1000, 1) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        writer.batch_due_s(1, 50, 0, 2)


def test_writer_batches_walk_learners_and_courses_with_new_ids():
    emails = [f"l{i}@x.example" for i in range(3)]
    courses = ["course-v1:A+1+2026", "course-v1:B+2+2026"]
    from datetime import UTC, datetime

    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    sessions = writer.page_session_batch(emails, courses, 4, 4, now)  # stream items 4..7
    assert [s["user"] for s in sessions] == ["l1@x.example", "l2@x.example", "l0@x.example", "l1@x.example"]
    assert [s["path"] for s in sessions] == [
        "/quiz/course-v1:A+1+2026/chapter4",
        "/player/course-v1:B+2+2026",
        "/quiz/course-v1:A+1+2026/chapter6",
        "/player/course-v1:B+2+2026",
    ]
    events = writer.event_batch(emails, courses, 0, 3, now)
    assert [e["type"] for e in events] == ["played_video", "attempted_problem", "viewed"]
    assert [e["course"] for e in events] == [courses[0], courses[1], courses[0]]  # (i * 7) % 2
    ids = [item["id"] for item in sessions + events]
    assert len(set(ids)) == 7 and all(uuid.UUID(i) for i in ids)


def test_heartbeats_resend_one_session_per_learner_with_the_counter_as_duration():
    mixed = {
        "learners": [{"Authorization": f"Bearer t{i}"} for i in range(100)],
        "courses": ["course-v1:A+1+2026", "course-v1:B+2+2026"],
    }
    requests = heartbeat_requests(mixed)
    assert len(requests) == 96  # a multiple of 8: at 8 clients a session always goes to one client
    first = requests[0]
    assert first["headers"] == {"Authorization": "Bearer t0", "Content-Type": "application/json"}
    body = json.loads(first["body"].replace(HEARTBEAT_TOKEN, "42"))
    assert body["duration"] == 42 and body["path"] == "/player/course-v1:A+1+2026"
    assert len({json.loads(r["body"].replace(HEARTBEAT_TOKEN, "1"))["id"] for r in requests}) == 96


class Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn's gthread workers
    bodies, connections = [], set()

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        Recorder.bodies.append(json.loads(self.rfile.read(length)))
        Recorder.connections.add(self.client_address)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_loadgen_keeps_one_connection_per_client_and_counts_in_the_body():
    Recorder.bodies, Recorder.connections = [], set()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        spec = {
            "host": "127.0.0.1",
            "port": server.server_address[1],
            "concurrency": 2,
            "duration_s": 5,
            "mode": "once",
            "counter_token": "__N__",
            "requests": [{"method": "POST", "path": "/", "body": '{"duration": __N__}'} for _ in range(6)],
        }
        result = loadgen.run(spec)
    finally:
        server.shutdown()
        server.server_close()
    assert [s[2] for s in result["samples"]] == [200] * 6
    assert len(Recorder.connections) <= 2  # 6 requests over the 2 clients' kept-alive connections
    # each client numbers its own requests 1, 2, 3...: the bodies are 1..a and 1..(6 - a)
    durations = sorted(body["duration"] for body in Recorder.bodies)
    assert any(durations == sorted([*range(1, a + 1), *range(1, 7 - a)]) for a in range(7))


def level(p50, p95, rps=100.0, cpu=None):
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p95, "rps": rps, "errors": 0, "server_cpu_ms": cpu}


def results_dict():
    learner = {
        "family": "learner",
        "name": "learner_analytics",
        "label": "GET /api/user/analytics (100 learners' tokens)",
        "levels": {"1": level(4.0, 5.0, cpu=2.5), "8": level(10.0, 20.0)},
        "loaded": {"8": level(12.0, 36.0)},
        "floor": {"p50_ms": 1.5},
    }
    learner["misses"] = stats.check_targets(learner)
    analyse = {
        "family": "analyse",
        "name": "results_all",
        "label": "POST /analyse/results, whole workspace",
        "levels": {"1": level(40.0, 50.0, cpu=35.0), "8": level(70.0, 90.0), "32": {"skipped": "slow"}},
        "loaded": {"8": level(80.0, 99.0)},
        "floor": {"p50_ms": 30.0},
    }
    analyse["misses"] = stats.check_targets(analyse)
    return {
        "started_at": "2026-12-10 09:00 UTC",
        "started_at_iso": "2026-12-10T09:00:00Z",
        "size": "large",
        "machine": {"load_before": [0.4, 0.5, 0.6], "load_after": [2.1, 1.0, 0.9]},
        "loaded_machine": False,
        "framework_floor": level(1.2, 1.9, cpu=1.1),
        "endpoints": [learner, analyse],
        "heartbeat": {"idle": {"8": level(3.0, 9.0)}, "loaded": {"8": level(5.0, 31.0)}},
        "ingest": {"tracking": {"rate": 10500.0}, "xapi": {"rate": 3100.0}, "tracking_logs": {"rate": None}},
        "freshness": {"p95_s": 12.5, "samples": [], "under": "mixed load"},
        "writer": {"target_items_per_s": 1000.0, "items_per_s": 990.5},
    }


def test_loaded_p95_over_one_and_a_half_idle_is_a_miss_and_light_cpu_over_3_ms_too():
    learner, analyse = results_dict()["endpoints"]
    assert learner["misses"] == ["p95 under load is 1.8x idle (> 1.5x)"]  # 36 / 20; CPU 2.5 is within 3
    assert analyse["misses"] == []  # 99 / 90 = 1.1x; 35 ms of CPU is no miss for a heavy endpoint
    heavy_learner = {**learner, "levels": {**learner["levels"], "1": level(4.0, 5.0, cpu=3.2)}, "loaded": {}}
    assert stats.check_targets(heavy_learner) == ["server CPU 3.2 ms per request > 3 ms"]


def test_benchmarks_json_has_the_issue_shape():
    summary = report.benchmarks_json(results_dict())
    assert summary["run"]["started_at"] == "2026-12-10T09:00:00Z"
    assert summary["run"]["dataset"] == "large"
    assert summary["run"]["load_1min"] == [0.4, 2.1]
    learner, analyse = summary["endpoints"]
    assert {key: learner[key] for key in ("name", "light", "target_p95_8_ms")} == {
        "name": "learner: learner_analytics",
        "light": True,
        "target_p95_8_ms": 30.0,
    }
    assert learner["idle"] == {
        "1": {"p50": 4.0, "p95": 5.0, "rps": 100.0},
        "8": {"p50": 10.0, "p95": 20.0, "rps": 100.0},
    }
    assert learner["loaded"] == {"8": {"p50": 12.0, "p95": 36.0, "rps": 100.0}}
    assert (learner["floor_p50_ms"], learner["framework_floor_p50_ms"], learner["server_cpu_ms"]) == (1.5, 1.2, 2.5)
    assert (analyse["light"], analyse["target_p95_8_ms"]) == (False, 100.0)
    assert set(analyse["idle"]) == {"1", "8"}  # the skipped level is left out
    assert summary["heartbeat"] == {"idle": {"8": {"p50": 3.0, "p95": 9.0}}, "loaded": {"8": {"p50": 5.0, "p95": 31.0}}}
    assert summary["ingest"] == {
        "tracking_items_per_s": 10500.0,
        "xapi_statements_per_s": 3100.0,
        "tracking_logs_lines_per_s": None,
        "import_data_lines_per_s": None,
    }
    assert summary["freshness_p95_s"] == 12.5
    json.dumps(summary)  # plain JSON


OLD_PAGE = """# Benchmarks
- Run: 2026-11-26 11:32 UTC to 2026-11-26 11:56 UTC (23.8 min); arguments `--duration 6`.

| endpoint | 1 client: p50 / p95 / p99 | req/s | 8 clients: p50 / p95 / p99 | req/s | floor p50 | p50 / floor | server CPU ms / req | load (1 min) | targets met |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| learner: GET /api/user/analytics (100 learners' tokens) | 17.1 / 23.1 / 25.7 | 58.6 | 58.8 / 73.5 / 92.0 | 132.7 | 2.7 | 6.31 | 16.6 | 2.2 → 2.1 | **no** |
| analyse: POST /analyse/results, whole workspace | 431.1 / 530.1 / 574.5 | 2.5 | 2,555 / 2,986 / 3,097 | 3.0 | 562.0 | 0.77 | 298.8 | 2.5 → 3.8 | **no** |

| path | what | rate | unit | notes |
| --- | --- | ---: | --- | --- |
| tracking | POST /api/track/page-sessions, 60 batches of 500 | 6,743 | items/s |  |
| tracking_logs | manage.py import_tracking_logs | 21,203 | lines/s | load 1.0 |
"""


def test_before_is_read_from_the_page_written_before_the_json_existed(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text(OLD_PAGE, encoding="utf-8")
    before = report.previous_numbers(tmp_path / "benchmarks.json", page)
    assert before["source"] == "docs/benchmarks.md of 2026-11-26 11:32"
    assert before["endpoints"] == {
        "learner: GET /api/user/analytics (100 learners' tokens)": {"p95_8_ms": 73.5, "server_cpu_ms": 16.6},
        "analyse: POST /analyse/results, whole workspace": {"p95_8_ms": 2986.0, "server_cpu_ms": 298.8},
    }
    assert before["ingest"] == {"tracking_items_per_s": 6743.0, "tracking_logs_lines_per_s": 21203.0}


def test_before_comes_from_the_json_once_it_exists_and_the_table_shows_both(tmp_path):
    results = results_dict()
    (tmp_path / "benchmarks.json").write_text(json.dumps(report.benchmarks_json(results)), encoding="utf-8")
    before = report.previous_numbers(tmp_path / "benchmarks.json", tmp_path / "absent.md")
    assert before["endpoints"]["learner: learner_analytics"] == {"p95_8_ms": 20.0, "server_cpu_ms": 2.5}
    assert before["heartbeat_p95_8_ms"] == 9.0
    rows = report.target_rows(results, report.benchmarks_json(results), before)
    assert rows[0] == [
        "learner: learner_analytics (light)",
        "p95 < 30; loaded ≤ 1.5x; CPU ≤ 3",
        "20.0 / 2.5",
        "20.0 / 36.0 (1.80x)",
        "2.50",
        "1.5 / 1.2",
        "**no**",
    ]
    heartbeat = rows[2]
    assert heartbeat[3:] == ["9.0 / 31.0", "", "", "**no**"]  # 31 ms loaded misses 30 ms
    tracking = rows[3]
    assert tracking[1:4] == ["≥ 10,000", "10,500", "10,500"] and tracking[-1] == "yes"


def test_a_loaded_machine_is_marked_on_the_page():
    results = {
        **results_dict(),
        "loaded_machine": True,
        "endpoints": [{**entry, "floor": None} for entry in results_dict()["endpoints"]],
        "levels": [1, 8],
        "warmup_s": 1,
        "duration_s": 2,
        "skip_32_over_ms": 1000,
        "workspace": "demo",
        "finished_at": "2026-12-10 09:30 UTC",
        "elapsed_s": 60,
        "argv": "--duration 2",
        "machine": {
            "platform": "Linux",
            "python": "3.11",
            "cores": 2,
            "memory_gib": 24,
            "load_before": [2.0, 1, 1],
            "load_after": [2.1, 1, 1],
        },
    }
    page = report.render(results)
    assert "## Targets: before and after (**loaded machine**" in page
    assert report.benchmarks_json(results)["run"]["loaded_machine"] is True


def test_the_writer_alone_share_of_the_cores_is_on_the_page():
    writer = {
        "items_per_s": 950.0,
        "alone": {"seconds": 5.0, "cores": 2, "machine_busy_cores": 1.37, "server_cores": 0.92},
    }

    assert report.writer_alone_lines(writer) == [
        "  The writer alone, before any reader started (5 s): 1.37 of 2 cores busy, 0.92 of them in gunicorn and PostgreSQL."
    ]
    assert report.writer_alone_lines({"items_per_s": 950.0}) == []
