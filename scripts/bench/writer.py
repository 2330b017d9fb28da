"""The background writer of `make bench`'s mixed load: tracking data arriving while reads are timed.

    python -m scripts.bench.writer SPEC.json    # runs until SIGTERM, then prints a JSON result

SPEC: {"host", "port", "api_key", "emails": [...], "courses": [...], "rate": items/s,
"batch": items per request, "threads": senders}.

Each sender thread owns one kept-alive HTTP/1.1 connection and sends batches of new items with
the admin API key, alternately page sessions (`POST /api/track/page-sessions`, a `/player/` or
`/quiz/` path of a course) and learning events (`POST /api/track/events`), walking the learners
and the courses so every course and many learners get writes. Batches are paced
(`batch_due_s`): batch k of a sender is due k * batch * threads / rate seconds after the start;
a sender that falls behind sends at once until it has caught up, so the achieved rate says
whether the server kept up. The result: items sent and accepted, requests, errors, seconds,
the achieved rate and the batch latencies' p50 / p95.
"""

import http.client
import json
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from scripts.bench import stats


def batch_due_s(index, batch, rate, threads):
    """Seconds after the start at which a sender's `index`-th batch is due, when `threads` senders
    share `rate` items/s in batches of `batch` items."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    return index * batch * threads / rate


def page_session_batch(emails, courses, start, batch, now):
    """`batch` new page sessions, item i of the stream for learner start + i and course start + i."""
    items = []
    for i in range(start, start + batch):
        course = courses[i % len(courses)]
        items.append(
            {
                "id": str(uuid.uuid4()),
                "user": emails[i % len(emails)],
                "page": "Course Player" if i % 2 else "Quiz",
                "path": f"/player/{course}" if i % 2 else f"/quiz/{course}/chapter{i % 7}",
                "startedAt": (now - timedelta(seconds=i % 600)).isoformat(),
                "duration": 30 + i % 300,
            }
        )
    return items


def event_batch(emails, courses, start, batch, now):
    """`batch` new learning events (played_video, attempted_problem, viewed), same walk."""
    kinds = ("played_video", "attempted_problem", "viewed")
    return [
        {
            "id": str(uuid.uuid4()),
            "user": emails[i % len(emails)],
            "type": kinds[i % 3],
            "occurredAt": (now - timedelta(seconds=i % 600)).isoformat(),
            "course": courses[(i * 7) % len(courses)],
            "object": f"bench-writer-{i % 50}",
        }
        for i in range(start, start + batch)
    ]


def run(spec, stop):
    rate, batch, threads = float(spec["rate"]), int(spec["batch"]), int(spec.get("threads", 2))
    emails, courses = spec["emails"], spec["courses"]
    headers = {"Authorization": f"Api-Key {spec['api_key']}", "Content-Type": "application/json"}
    per_thread = [{"sent": 0, "accepted": 0, "requests": 0, "errors": 0, "latencies": []} for _ in range(threads)]
    first_errors = []
    started = time.perf_counter()

    def sender(worker):
        tally = per_thread[worker]
        connection = http.client.HTTPConnection(spec["host"], int(spec["port"]), timeout=60)
        index = 0
        while not stop.is_set():
            wait = started + batch_due_s(index, batch, rate, threads) - time.perf_counter()
            if wait > 0 and stop.wait(wait):
                break
            offset = (index * threads + worker) * batch
            now = datetime.now(UTC)
            if (index + worker) % 2:
                path, items = "/api/track/events", event_batch(emails, courses, offset, batch, now)
            else:
                path, items = "/api/track/page-sessions", page_session_batch(emails, courses, offset, batch, now)
            began = time.perf_counter()
            try:
                connection.request("POST", path, body=json.dumps(items), headers=headers)
                response = connection.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = http.client.HTTPConnection(spec["host"], int(spec["port"]), timeout=60)
                status, payload = 0, repr(exc).encode()
            tally["latencies"].append(time.perf_counter() - began)
            tally["requests"] += 1
            tally["sent"] += batch
            if status in (200, 207):
                tally["accepted"] += json.loads(payload).get("accepted", 0)
            else:
                tally["errors"] += 1
                if len(first_errors) < 3:
                    first_errors.append({"status": status, "body": payload[:300].decode("utf-8", "replace")})
            index += 1
        connection.close()

    workers = [threading.Thread(target=sender, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    while not stop.wait(0.5):  # a short wait lets SIGTERM's handler run
        pass
    for worker in workers:
        worker.join(timeout=70)
    elapsed = time.perf_counter() - started
    latencies_ms = [value * 1000 for tally in per_thread for value in tally["latencies"]]
    accepted = sum(t["accepted"] for t in per_thread)
    return {
        "target_items_per_s": rate,
        "batch": batch,
        "items_sent": sum(t["sent"] for t in per_thread),
        "items_accepted": accepted,
        "requests": sum(t["requests"] for t in per_thread),
        "errors": sum(t["errors"] for t in per_thread),
        "elapsed_s": round(elapsed, 2),
        "items_per_s": stats.rate(accepted, elapsed),
        "batch_p50_ms": stats._round(stats.percentile(latencies_ms, 50)),
        "batch_p95_ms": stats._round(stats.percentile(latencies_ms, 95)),
        "first_errors": first_errors,
    }


def main(argv):
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", file=sys.stderr, flush=True)
    json.dump(run(spec, stop), sys.stdout)
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
