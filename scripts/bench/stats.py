"""The numbers of `make bench`: percentiles, per-run summaries, ratios and target checks.

Pure functions on plain lists and dicts (no Django, no I/O), so the report's arithmetic is tested
on its own (tests/bench/test_stats.py).
"""

import math

# The targets.
READ_P95_MS_AT_8 = 100.0  # every read endpoint, p95 at 8 concurrent clients
FAST_P95_MS_AT_8 = 30.0  # the learner endpoint and the course information endpoints
FAST_FAMILIES = ("learner", "course_info")
FLOOR_RATIO_MAX = 2.0  # endpoint p50 / floor p50
TRACKING_ITEMS_S = 10000  # batches of 500 (issue 21)
LIGHT_CPU_MS = 3.0  # server CPU (web worker + PostgreSQL backend) per request of a light endpoint
# The light endpoints, held to LIGHT_CPU_MS: learner, course information, 360Learning, single video.
LIGHT_FAMILIES = ("learner", "course_info", "course_stats")
LIGHT_ENDPOINTS = (("video_cloud", "video"),)
LOADED_RATIO_MAX = 1.5  # p95 at 8 clients under the mixed load / idle p95 at 8 clients
HEARTBEAT_P95_MS = 30.0  # one page session per request, 8 clients, idle and under the mixed load
FRESHNESS_P95_S = 60.0  # a new item visible in every API that counts it
TRACKING_LOG_LINES_S = 20000
IMPORT_DATA_LINES_S = 6000


def percentile(values, q):
    """The q-th percentile (0-100) of `values`, interpolating linearly between the two closest
    ranks (numpy's default and PostgreSQL's percentile_cont). None for an empty list."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_latencies(latencies_s, window_s, errors=0):
    """Latency percentiles in milliseconds and throughput of one measured run.

    `latencies_s` are the seconds of the successful requests of a run; requests/s is their count
    over `window_s`, the run's length from its start to its last response."""
    count = len(latencies_s)
    ms = [value * 1000 for value in latencies_s]
    return {
        "requests": count,
        "errors": errors,
        "window_s": round(window_s, 3),
        "rps": round(count / window_s, 2) if window_s > 0 else None,
        "p50_ms": _round(percentile(ms, 50)),
        "p95_ms": _round(percentile(ms, 95)),
        "p99_ms": _round(percentile(ms, 99)),
        "mean_ms": _round(sum(ms) / count) if count else None,
        "max_ms": _round(max(ms)) if count else None,
    }


def summarize_samples(samples, window_s):
    """summarize_latencies over loadgen samples [(start offset s, latency s, HTTP status)]:
    2xx responses count, anything else (0 = connection error) is an error."""
    ok = [latency for start, latency, status in samples if 200 <= status < 300]
    return summarize_latencies(ok, window_s, errors=len(samples) - len(ok))


def ratio(numerator, denominator):
    """numerator / denominator rounded to 2 places; None when either is missing or the
    denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 2)


def rate(items, seconds):
    """Items per second, None without elapsed time."""
    return round(items / seconds, 1) if seconds and seconds > 0 else None


def target_p95_ms(family):
    return FAST_P95_MS_AT_8 if family in FAST_FAMILIES else READ_P95_MS_AT_8


def is_light(family, name):
    """Whether an endpoint is held to LIGHT_CPU_MS of server CPU per request."""
    return family in LIGHT_FAMILIES or (family, name) in LIGHT_ENDPOINTS


def check_targets(endpoint):
    """Which targets one endpoint result misses: a list of short sentences, empty when all hold.

    `endpoint` is a results.json entry: family, name, levels {"8": summary, ...}, loaded
    {"8": summary} (under the mixed load, optional), floor_ratio."""
    misses = []
    at8 = endpoint.get("levels", {}).get("8")
    target = target_p95_ms(endpoint["family"])
    if at8 and at8.get("p95_ms") is not None and at8["p95_ms"] >= target:
        misses.append(f"p95 at 8 clients {at8['p95_ms']:.0f} ms >= {target:.0f} ms")
    if at8 and at8.get("errors"):
        misses.append(f"{at8['errors']} errors at 8 clients")
    floor_ratio = endpoint.get("floor_ratio")
    if floor_ratio is not None and floor_ratio > FLOOR_RATIO_MAX:
        misses.append(f"p50 is {floor_ratio:.1f}x its floor (> {FLOOR_RATIO_MAX:.0f}x)")
    loaded8 = (endpoint.get("loaded") or {}).get("8")
    if at8 and loaded8:
        grown = ratio(loaded8.get("p95_ms"), at8.get("p95_ms"))
        if grown is not None and grown > LOADED_RATIO_MAX:
            misses.append(f"p95 under load is {grown:.1f}x idle (> {LOADED_RATIO_MAX}x)")
    cpu = (endpoint.get("levels", {}).get("1") or {}).get("server_cpu_ms")
    if is_light(endpoint["family"], endpoint.get("name")) and cpu is not None and cpu > LIGHT_CPU_MS:
        misses.append(f"server CPU {cpu:.1f} ms per request > {LIGHT_CPU_MS:.0f} ms")
    return misses


def growth(points):
    """How latency grows with size: [(size, ms)] sorted by size -> ms at the largest / ms at the
    smallest, and the size factor between them. None when it cannot be said."""
    usable = sorted((size, ms) for size, ms in points if size and ms)
    if len(usable) < 2:
        return None
    (small_size, small_ms), (big_size, big_ms) = usable[0], usable[-1]
    return {"latency_factor": ratio(big_ms, small_ms), "size_factor": ratio(big_size, small_size)}


def _round(value, places=2):
    return None if value is None else round(value, places)
