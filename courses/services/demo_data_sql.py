"""PostgreSQL only: the two biggest demo tables made inside the database with generate_series.

Page sessions and learning events are most of a large workspace (15 of its ~20 million rows).
Generating them in Python and sending them through COPY costs ~10 µs a row of Python; as
`INSERT ... SELECT ... FROM generate_series` PostgreSQL makes them itself at ~1-2 µs a row.

The Python side still decides everything that needs judgement: which learner studies which
course, when (the activity window), how far (the chapters and videos reached) and how much (rows
per enrollment). That plan goes to temporary tables by COPY; the SQL below only expands each plan
row into its sessions and events with the same rules as the Python generators in demo_data.py
(page mix, durations, weekly and daily rhythm, drop-off towards the furthest chapter), drawing
its random numbers from hashint8extended(row number, seed): the same seed gives the same rows.
"""

PLAN_TABLE = "demo_plan"
PEOPLE_TABLE = "demo_people"


def create_plan_tables(cursor):
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{PLAN_TABLE}, pg_temp.{PEOPLE_TABLE}")
    cursor.execute(f"""
        CREATE TEMP TABLE {PLAN_TABLE} (
            ord integer PRIMARY KEY, user_id bigint NOT NULL, course_id bigint NOT NULL,
            course_key text NOT NULL, low bigint NOT NULL, high bigint NOT NULL, device text NOT NULL,
            chapters text[] NOT NULL, videos text[] NOT NULL, sessions integer NOT NULL,
            events integer NOT NULL
        )""")
    cursor.execute(f"""
        CREATE TEMP TABLE {PEOPLE_TABLE} (
            ord integer PRIMARY KEY, user_id bigint NOT NULL, low bigint NOT NULL, high bigint NOT NULL,
            device text NOT NULL, sessions integer NOT NULL
        )""")


def drop_plan_tables(cursor):
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{PLAN_TABLE}, pg_temp.{PEOPLE_TABLE}")


def text_array(values):
    """A PostgreSQL array literal for COPY's text format (keys made by the generator: no quotes)."""
    for value in values:
        if any(char in value for char in '"\\\t\n{},'):
            raise ValueError(f"unexpected character in generated key {value!r}")
    return "{" + ",".join(f'"{value}"' for value in values) + "}"


def copy_rows(cursor, table, columns, rows):
    with cursor.copy(f"COPY pg_temp.{table} ({', '.join(columns)}) FROM STDIN") as copy:
        batch = []
        for row in rows:
            batch.append("\t".join(str(value) for value in row))
            if len(batch) >= 50_000:
                copy.write("\n".join(batch) + "\n")
                batch = []
        if batch:
            copy.write("\n".join(batch) + "\n")


UNIFORMS = 8  # independent uniform numbers drawn per generated row


def _expanded(table, count_column):
    """Each plan row repeated `count_column` times, with its row number k and uniforms u1..u8.

    OFFSET 0 keeps the planner from folding this subquery into the one above it: folded, every
    use of u1 would recompute its hash, and the timestamp expression uses some of them a dozen
    times.
    """
    uniforms = ", ".join(
        f"(hashint8extended(q.k, %(seed)s + {n}) & 2147483647)::float8 / 2147483648.0 AS u{n}"
        for n in range(1, UNIFORMS + 1)
    )
    return f"""(
        SELECT q.*, {uniforms}, 1 + (hashint8extended(q.k, %(seed)s) & 4095)::integer AS sod_index
        FROM (
            SELECT p.*, p.ord::bigint * 4194304 + g AS k
            FROM pg_temp.{table} p CROSS JOIN LATERAL generate_series(1, p.{count_column}) AS g
            WHERE p.ord >= %(first)s AND p.ord < %(last)s
        ) q
        OFFSET 0
    ) r"""


def _uniform(n):
    """The n-th uniform number in [0, 1) of the current row."""
    return f"r.u{n}"


def _normal(a, b):
    """A standard normal number from two uniforms (Box-Muller); the first is kept above zero."""
    return f"(sqrt(-2.0 * ln({_uniform(a)} + 1e-12)) * cos(2.0 * pi() * {_uniform(b)}))"


# Learners study more on weekdays: a weekend moment moves, with probability WEEKEND_SHIFT, to a
# weekday of the same week drawn uniformly (when that stays in the window), then takes a time of
# day from the same table of study hours as the Python generator.
WEEKEND_SHIFT = 0.6


def _moment(low, high, a, b, c):
    base = f"({low} + floor(({high} - {low}) * {_uniform(a)})::bigint)"
    weekday = f"mod({base} / 86400 + 3, 7)"  # 0 is Monday
    moved_base = f"({base} + (floor(5 * {_uniform(c)})::bigint - {weekday}) * 86400)"
    moved = (
        f"(CASE WHEN {weekday} >= 5 AND {_uniform(b)} < {WEEKEND_SHIFT} "
        f"AND {moved_base} BETWEEN {low} AND {high} THEN {moved_base} ELSE {base} END)"
    )
    return moved, "(%(second_of_day)s::integer[])[r.sod_index]"


def _at(low, high, a, b, c):
    """A second in [low, high] with the weekly and daily rhythm (see _moment)."""
    moved, second = _moment(low, high, a, b, c)
    candidate = f"({moved} - mod({moved}, 86400) + {second})"
    return f"(CASE WHEN {candidate} BETWEEN {low} AND {high} THEN {candidate} ELSE {moved} END)"


def _device(n):
    u = _uniform(n)
    return (
        f"(CASE WHEN {u} < 0.8 THEN r.device WHEN {u} < 0.92 THEN 'desktop' "
        f"WHEN {u} < 0.98 THEN 'mobile' ELSE 'tablet' END)"
    )


COURSE_SESSIONS_SQL = f"""
INSERT INTO analytics_pagesession (id, workspace_id, user_id, page, path, started_at, duration_s, course_id,
                                   course_key, chapter_key, device, received_at)
SELECT md5(%(salt)s || ':session:' || s.k)::uuid, %(workspace)s, s.user_id, s.page,
       CASE s.page WHEN 'Course Player' THEN '/player/' || s.course_key
                   WHEN 'Quiz' THEN '/quiz/' || s.course_key || '/' || s.chapter
                   ELSE '/courses/' || s.course_key END,
       to_timestamp(s.at), s.duration, CASE WHEN s.page = 'Course Details' THEN NULL ELSE s.course_id END,
       CASE WHEN s.page = 'Course Details' THEN '' ELSE s.course_key END,
       CASE WHEN s.page = 'Quiz' THEN s.chapter ELSE '' END,
       s.device, to_timestamp(s.at + s.duration + mod(s.k, 16))
FROM (
    SELECT r.k, r.user_id, r.course_id, r.course_key, {_at("r.low", "r.high", 1, 2, 3)} AS at, {_device(4)} AS device,
           CASE WHEN {_uniform(5)} < 0.62 THEN 'Course Player' WHEN {_uniform(5)} < 0.87 THEN 'Quiz'
                ELSE 'Course Details' END AS page,
           r.chapters[greatest(1, cardinality(r.chapters) - floor(cardinality(r.chapters) * {_uniform(6)} ^ 2)::integer)]
               AS chapter,
           CASE WHEN {_uniform(5)} < 0.62 THEN least(14400, floor(exp(6.2 + 0.8 * {_normal(7, 8)})))
                WHEN {_uniform(5)} < 0.87 THEN least(3600, floor(exp(5.3 + 0.7 * {_normal(7, 8)})))
                ELSE least(1800, floor(exp(3.5 + 0.8 * {_normal(7, 8)}))) END::integer AS duration
    FROM {_expanded(PLAN_TABLE, "sessions")}
) s
"""  # noqa: S608 (no user input: table names are constants, values are parameters)

# (page, paths, cumulative share, median seconds): the pages outside courses.
OTHER_PAGES_SQL = f"""
INSERT INTO analytics_pagesession (id, workspace_id, user_id, page, path, started_at, duration_s, course_id,
                                   course_key, chapter_key, device, received_at)
SELECT md5(%(salt)s || ':other:' || s.k)::uuid, %(workspace)s, s.user_id, s.page,
       CASE s.page WHEN 'Home' THEN '/' WHEN 'Browse Courses' THEN '/courses' WHEN 'Analytics' THEN '/analytics'
                   WHEN 'Profile' THEN '/profile'
                   ELSE (ARRAY['/settings', '/notifications', '/help', '/certificates'])[1 + mod(s.k, 4)::integer] END,
       to_timestamp(s.at), s.duration, NULL, '', '', s.device, to_timestamp(s.at + s.duration + mod(s.k, 16))
FROM (
    SELECT r.k, r.user_id, {_at("r.low", "r.high", 1, 2, 3)} AS at, {_device(4)} AS device, x.page,
           least(1800, floor(x.median * exp(0.9 * {_normal(7, 8)})))::integer AS duration
    FROM {_expanded(PEOPLE_TABLE, "sessions")}
    CROSS JOIN LATERAL (
        SELECT CASE WHEN u < 0.30 THEN 'Home' WHEN u < 0.52 THEN 'Browse Courses' WHEN u < 0.64 THEN 'Analytics'
                    WHEN u < 0.80 THEN 'Profile' ELSE 'Other' END AS page,
               CASE WHEN u < 0.30 THEN 35 WHEN u < 0.52 THEN 60 WHEN u < 0.64 THEN 90
                    WHEN u < 0.80 THEN 70 ELSE 40 END AS median
        FROM (SELECT {_uniform(5)} AS u) v
    ) x
) s
"""  # noqa: S608

EVENTS_SQL = f"""
INSERT INTO analytics_learningevent (id, workspace_id, user_id, course_id, type, object, occurred_at, source, data,
                                     received_at)
SELECT md5(%(salt)s || ':event:' || e.k)::uuid, %(workspace)s, e.user_id, e.course_id, e.type,
       CASE e.type
           WHEN 'played_video' THEN e.videos[1 + floor(cardinality(e.videos) * e.u2 ^ 1.5)::integer]
           WHEN 'viewed' THEN e.chapters[1 + floor(cardinality(e.chapters) * e.u2)::integer]
           WHEN 'attempted_problem' THEN e.chapters[1 + floor(cardinality(e.chapters) * e.u2)::integer]
                                         || '/problem-' || (1 + mod(e.k, 4))
           ELSE 'thread-' || lpad(to_hex(hashint8extended(e.k, %(seed)s + 9) & 4294967295), 8, '0') END,
       to_timestamp(e.at),
       CASE WHEN e.u3 < 0.70 THEN 'tracker' WHEN e.u3 < 0.85 THEN 'xapi' WHEN e.u3 < 0.95 THEN 'tracking_log'
            ELSE 'import' END,
       CASE e.type WHEN 'attempted_problem' THEN (%(problem_data)s::jsonb[])[1 + mod(e.k, %(problem_count)s)::integer]
                   WHEN 'posted_forum' THEN (%(forum_data)s::jsonb[])[1 + mod(e.k, %(forum_count)s)::integer]
                   ELSE '{{}}'::jsonb END,
       to_timestamp(e.at + mod(e.k, 32))
FROM (
    SELECT r.k, r.user_id, r.course_id, r.chapters, r.videos, {_at("r.low", "r.high", 1, 2, 3)} AS at,
           CASE WHEN {_uniform(5)} < 0.40 THEN 'played_video' WHEN {_uniform(5)} < 0.73 THEN 'viewed'
                WHEN {_uniform(5)} < 0.95 THEN 'attempted_problem' ELSE 'posted_forum' END AS type,
           {_uniform(6)} AS u2, {_uniform(7)} AS u3
    FROM {_expanded(PLAN_TABLE, "events")}
) e
"""  # noqa: S608


def run_in_chunks(cursor, sql, params, entries, chunk, on_progress):
    """Run sql over plan rows [first, last) chunk by chunk (for the progress bar); returns rows."""
    total = 0
    for first in range(0, entries, chunk):
        cursor.execute(sql, {**params, "first": first, "last": min(entries, first + chunk)})
        total += cursor.rowcount
        on_progress(cursor.rowcount)
    return total


def seed_base(seed):
    """hashint8extended takes a bigint seed; leave room for the per-number offsets."""
    return (seed % 2**40) * 1_000
