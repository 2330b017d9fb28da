"""The xAPI LRS benchmark (issue targets in docs/benchmarks.md), on its own PostgreSQL database:

1. a workspace of --statements stored statements (default 2,000,000: 20,000 agents of 100
   statements each over 180 days, video and problem statements with a course parent), written
   by COPY with their relation rows when the workspace holds fewer;
2. gunicorn (2 workers, as make bench) on it;
3. POST /xapi/statements: --post-batches batches of 100 new Open edX-shaped statements (video
   played / paused, problem evaluated) from 4 clients, with the events / video views mapping and
   the rollups, into a workspace of their own made anew each run (so that a run does not add to
   the viewing sessions of the last), in the same tables;
4. GET /xapi/statements?agent=...&limit=100 at 1 and 8 clients for --duration seconds each.

    python scripts/bench_xapi.py [--statements N] [--post-batches N] [--duration S]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/la_xapibench. The last line printed
is `RESULT <json>` for scripts/bench/run.py.
"""

import argparse
import json
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchlib import configure_environment, create_database_if_missing  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/la_xapibench"
SLUG = "bench-xapi"
POST_SLUG = "bench-xapi-post"
HOME_PAGE = "http://bench-xapi.example"
STATEMENTS_PER_AGENT = 100
HEADERS = {"Content-Type": "application/json", "X-Experience-API-Version": "1.0.3"}


def log(message):
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=2_000_000, help="stored statements (default 2,000,000)")
    parser.add_argument("--post-batches", type=int, default=62, help="POST batches of 100 (default 62)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per GET level (default 10)")
    return parser.parse_args(argv)


def agent(number):
    return {"objectType": "Agent", "account": {"homePage": HOME_PAGE, "name": f"agent{number}"}}


def generated_statement(n, start):
    """The n-th generated statement: agent n // 100, one statement every ~8 s from start."""
    course = f"http://lms.bench.example/course/course-v1:Bench+X{n % 50}+2026"
    if n % 3 == 2:
        verb = "https://w3id.org/xapi/acrossx/verbs/evaluated"
        obj_id = f"http://lms.bench.example/xblock/block-v1:Bench+X{n % 50}+2026+type@problem+block@p{n % 40}"
        obj_type = "http://adlnet.gov/expapi/activities/cmi.interaction"
    else:
        verb = f"https://w3id.org/xapi/video/verbs/{'played' if n % 3 == 0 else 'paused'}"
        obj_id = f"http://lms.bench.example/xblock/block-v1:Bench+X{n % 50}+2026+type@video+block@v{n % 40}"
        obj_type = "https://w3id.org/xapi/video/activity-type/video"
    at = start + timedelta(seconds=n * 8)
    stamp = at.isoformat().replace("+00:00", "Z")
    return at, {
        "id": str(uuid.UUID(int=random.getrandbits(128), version=4)),
        "actor": agent(n // STATEMENTS_PER_AGENT),
        "verb": {"id": verb},
        "object": {"id": obj_id, "objectType": "Activity", "definition": {"type": obj_type}},
        "context": {"contextActivities": {"parent": [{"id": course, "objectType": "Activity"}]}},
        "timestamp": stamp,
        "stored": stamp,
        "version": "1.0.0",
    }


def generate(workspace, count, have):
    """Statements have..count-1 of the workspace and their relation rows, by COPY."""
    from analytics.models import XapiStatement, XapiStatementRelation
    from analytics.services.xapi.identity import agent_key, statement_pk
    from analytics.services.xapi.relations import RELATION_COLUMNS, statement_relations
    from analytics.services.xapi.statements import STATEMENT_COLUMNS
    from courses.services.bulk_write import BulkWriter

    start = datetime.now(UTC) - timedelta(days=180)
    relations = []  # filled as the statements are written

    def statements():
        for n in range(have, count):
            at, statement = generated_statement(n, start)
            pk = statement_pk(workspace.id, statement["id"])
            values = {
                "id": pk,
                "workspace_id": workspace.id,
                "statement": json.dumps(statement),
                "verb_id": statement["verb"]["id"],
                "actor_key": agent_key(statement["actor"]),
                "activity_id": statement["object"]["id"],
                "user_id": None,
                "registration": "",
                "timestamp": at,
                "stored": at,
                "is_voided": False,
            }
            yield [values[name] for name in STATEMENT_COLUMNS]
            for (kind, key), is_direct in statement_relations(statement).items():
                relations.append((workspace.id, pk, kind, key, is_direct, at))

    writer = BulkWriter.for_connection(progress=True)
    with writer.bulk_load_mode([XapiStatement, XapiStatementRelation], min_rows=count - have):
        writer.write(XapiStatement, STATEMENT_COLUMNS, statements(), total=count - have)
        writer.write(XapiStatementRelation, RELATION_COLUMNS, relations, total=len(relations))


def prepare(count):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.models import ApiKey, Role, Workspace
    from analytics.models import XapiStatement
    from courses.services.demo_data import delete_demo_workspace

    call_command("migrate", verbosity=0)
    workspace, _ = Workspace.objects.get_or_create(slug=SLUG, defaults={"name": "xAPI benchmark"})
    have = XapiStatement.objects.filter(workspace=workspace).count()
    if have < count:
        log(f"generating statements {have:,} to {count:,} (COPY, relation rows included)")
        with transaction.atomic():
            generate(workspace, count, have)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE analytics_xapistatement")
            cursor.execute("VACUUM ANALYZE analytics_xapistatementrelation")
    ApiKey.objects.filter(workspace=workspace, name=SLUG).delete()
    _, read_key = ApiKey.issue(workspace, role=Role.ADMIN, name=SLUG)
    stored = XapiStatement.objects.filter(workspace=workspace).count()
    XapiStatement.objects.filter(workspace__slug=POST_SLUG).delete()
    delete_demo_workspace(POST_SLUG)
    post_workspace = Workspace.objects.create(slug=POST_SLUG, name="xAPI benchmark, posts")
    _, post_key = ApiKey.issue(post_workspace, role=Role.ADMIN, name=SLUG)
    connection.close()
    return read_key, post_key, stored


def get_requests(key, agents, count):
    picks = random.Random(7).sample(range(agents), min(count, agents))
    return [
        {
            "method": "GET",
            "path": f"/xapi/statements?agent={quote(json.dumps(agent(n)))}&limit=100",
            "headers": {**HEADERS, "Authorization": f"Api-Key {key}"},
        }
        for n in picks
    ]


def main(argv=None):
    args = parse_args(argv)
    configure_environment(DEFAULT_DATABASE_URL)
    import os

    create_database_if_missing(os.environ["DATABASE_URL"])
    read_key, post_key, stored = prepare(args.statements)
    log(f"{stored:,} statements stored in workspace {SLUG}")

    from scripts.bench import stats
    from scripts.bench.run import Gunicorn, load, timed_once, xapi_bodies

    env = dict(os.environ)
    result = {"stored_statements": stored}
    emails = [f"learner{i}@bench-xapi-post.example" for i in range(200)]
    courses = [f"course-v1:Bench+P{i}+2026" for i in range(20)]
    videos = [f"video-{i}" for i in range(40)]
    posts = [
        {
            "method": "POST",
            "path": "/xapi/statements",
            "body": body,
            "headers": {**HEADERS, "Authorization": f"Api-Key {post_key}"},
        }
        for body in xapi_bodies(emails, courses, videos, args.post_batches + 2, 100)
    ]
    reads = get_requests(read_key, max(1, args.statements // STATEMENTS_PER_AGENT), 500)
    with Gunicorn(env) as server:
        load(server.port, posts[:2], 2, 60, mode="once")  # warm-up: learners, courses, videos exist
        post = timed_once(server, env["DATABASE_URL"], posts[2:], 100, 4)
        result["post"] = post
        log(
            f"POST: {post['rate']} statements/s ({post['items']} statements, 4 clients, {post['errors']} errors, "
            f"server CPU {post['server_cpu_us_per_item']} µs/statement)"
        )
        load(server.port, reads, 2, 2.0)
        for level in (1, 8):
            run = load(server.port, reads, level, args.duration)
            summary = stats.summarize_samples(run["samples"], run["elapsed_s"])
            result[f"get_{level}"] = summary
            log(
                f"GET agent limit=100, {level} clients: p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, "
                f"{summary['rps']} req/s, {summary['errors']} errors"
            )
    print("RESULT " + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
