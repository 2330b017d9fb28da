"""The load generator of `make bench`: a separate process of client threads (one HTTP/1.1
connection each, http.client, kept alive between requests as a browser or an integration does,
reopened only when the server closes it), and a do-nothing server to measure the client's own
overhead.

    python -m scripts.bench.loadgen SPEC.json      # prints a JSON result on stdout
    python -m scripts.bench.loadgen --null-server   # prints its port, answers until killed

SPEC: {"host", "port", "concurrency", "duration_s", "mode": "loop" | "once", "timeout_s",
"requests": [{"method", "path", "headers", "body"}], "counter_token": optional}.

With "counter_token" (e.g. "__N__"), that text in a body is replaced by how many requests the
client has sent so far plus one: the tracker's heartbeats re-send the same page session with a
growing duration (scripts/bench/run.py's heartbeat requests).

- loop: client i sends requests i, i + concurrency, i + 2 * concurrency... of the list, round and
  round, until duration_s has passed since the common start; then it finishes its request in
  flight and stops. Requests started after the deadline are not sent, so a run is bounded by
  duration_s plus one request's time.
- once: every request of the list is sent exactly once (ingest: each body has new ids), the
  clients taking the next one from a shared queue, until the list or duration_s runs out.

The result: samples [(start offset s, latency s, status)] for every request sent (status 0 on a
connection error), the window (deadline or end of the last request, whichever is first), the
client process's CPU seconds over the run, and the first error bodies (for the report).
"""

import asyncio
import http.client
import json
import sys
import threading
import time


def run(spec):
    requests = spec["requests"]
    concurrency = int(spec["concurrency"])
    duration_s = float(spec["duration_s"])
    once = spec.get("mode", "loop") == "once"
    timeout_s = float(spec.get("timeout_s", 300))
    host, port = spec["host"], int(spec["port"])
    counter_token = spec.get("counter_token")
    prepared = [
        (
            r.get("method", "GET"),
            r["path"],
            (r["body"].encode() if isinstance(r.get("body"), str) else r.get("body")),
            r.get("headers") or {},
        )
        for r in requests
    ]
    per_thread = [[] for _ in range(concurrency)]
    errors = []
    queue_lock = threading.Lock()
    next_index = [0]
    barrier = threading.Barrier(concurrency + 1)
    start = [0.0]

    def take(worker, counter):
        if once:
            with queue_lock:
                index = next_index[0]
                next_index[0] += 1
            return prepared[index] if index < len(prepared) else None
        return prepared[(worker + counter * concurrency) % len(prepared)]

    def client(worker):
        connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
        samples = per_thread[worker]
        barrier.wait()
        deadline = start[0] + duration_s
        counter = 0
        while True:
            began = time.perf_counter()
            if began >= deadline:
                break
            request = take(worker, counter)
            if request is None:
                break
            counter += 1
            method, path, body, headers = request
            if counter_token and body:
                body = body.replace(counter_token.encode(), str(counter).encode())
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
                status, payload = 0, repr(exc).encode()
            ended = time.perf_counter()
            samples.append((began - start[0], ended - began, status))
            if not 200 <= status < 300 and len(errors) < 3:
                errors.append({"status": status, "path": path, "body": payload[:300].decode("utf-8", "replace")})
        connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    cpu_before = time.process_time()
    start[0] = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    finished = time.perf_counter()
    cpu_s = time.process_time() - cpu_before
    samples = sorted(sample for samples in per_thread for sample in samples)
    window_s = min(duration_s, finished - start[0])
    return {
        "samples": samples,
        "window_s": window_s,
        "elapsed_s": finished - start[0],
        "cpu_s": cpu_s,
        "errors": errors,
    }


CANNED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class NullProtocol(asyncio.Protocol):
    """Answers each bodiless request with a canned 200 on a kept-alive connection, as the gthread
    workers do: what is left of a request's latency is the client's and the loopback's."""

    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(CANNED)


async def null_server():
    server = await asyncio.get_running_loop().create_server(NullProtocol, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main(argv):
    if argv[:1] == ["--null-server"]:
        asyncio.run(null_server())
        return
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    json.dump(run(spec), sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
