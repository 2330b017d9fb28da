"""A realistic synthetic workspace, from a tiny demo to a benchmark (`manage.py generate_demo_data`).

What it makes, for one workspace:
- people: admins, instructors (linked to their courses through Course.instructors) and learners,
  with demographics (birth year, gender f/m/o or blank, education level, ISO country, some
  unknown), a `source` (organic / referral / social), groups, and the custom fields Department,
  Region and Job Title with values;
- a catalog whose popularity follows a Zipf law: `course-v1:Org+Code+Run` keys and 24-hex ids,
  chapters and videos;
- enrollments (audit / honor / verified / professional, MANDATORY / OPTIONAL, some unenrolled,
  some expired) with one attempt each (a few learners retake), in every state, with progress,
  score, time spent, completion and certificates;
- behaviour over the last HISTORY_DAYS days up to the current hour: page sessions with the
  SkillRise page names and the course / chapter keys the tracking API reads from their paths,
  learning events, video views (segments, positions, completion, device, platform, country,
  quality) and reactions. Fewer sessions on weekends; learners drop off along chapters and
  videos, so more people start a video than finish it;
- problems (1-3 parts: multiple choice, checkboxes, numbers) in subsections of each chapter,
  answered 1-3 times by the learners who reached them (retries are right more often, so last
  answers differ from first ones), subsection opens, and the problem rollups rebuilt from them
  (`rebuild_problem_rollups`); the catalog facts of each course (start, end, pacing, catalog
  course and title) and three programs of courses.

The same seed gives the same rows (keys, emails, counts, values). Times are relative to `now`
floored to the hour; primary keys and other globally unique ids also mix in the workspace slug,
so two workspaces made with one seed do not collide. The demo logins (DEMO_LOGINS) always exist,
and the demo learner has a rich history including every one of the last 7 days.

Rows go through `bulk_write`: COPY on PostgreSQL (with index builds deferred to the end for big
empty tables), bulk_create in batches elsewhere.
"""

import hashlib
import itertools
import math
import random
import time
import unicodedata
import uuid
from bisect import bisect
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from analytics.services.course_info_rollups import changes_course_info, workspace_courses
from accounts.models import CustomField, CustomFieldValue, LearnerGroup, Membership, Role, User, Workspace
from analytics.models import (
    LearnerActivity,
    LearnerDay,
    LearningEvent,
    PageSession,
    ProblemAnswerCount,
    ProblemGradeCount,
    ProblemLearnerLatest,
    ProblemPartLatest,
    ProblemResponse,
    ReactionDay,
    SubsectionLearner,
    SubsectionOpen,
    VideoDay,
    VideoReaction,
    VideoView,
    VideoViewerDay,
)
from analytics.services.problem_rollups import list_answer, rebuild_problem_rollups
from analytics.services.records.behaviour import VIDEO_VIEW_COLUMNS
from analytics.services.learner_activity import rebuild_learner_activity
from analytics.services.partitions import ensure_month_partitions
from analytics.services.reaction_days import rebuild_reaction_days
from analytics.services.video_days import rebuild_video_days
from courses.models import Attempt, Chapter, Course, CoursePacing, Enrollment, Program, Result, Video
from courses.results import rebuild_results

from .bulk_write import BulkWriter

DAY = 86_400
HISTORY_DAYS = 120
DEMO_WORKSPACE = "demo"


@dataclass(frozen=True)
class DemoSize:
    name: str
    learners: int
    instructors: int
    admins: int
    courses: int
    chapters: tuple  # (fewest, most) per course
    videos_per_chapter: tuple
    enrollments_per_learner: int  # mean; each learner takes 1 .. 2*mean-1 courses
    page_sessions: int
    events: int
    video_views: int
    problem_responses: int = 0  # about: one row per part of each submission
    subsection_opens: int = 0


SIZES = {
    "tiny": DemoSize("tiny", 60, 3, 2, 8, (3, 6), (1, 3), 3, 3_000, 4_000, 800, 1_000, 600),
    "small": DemoSize("small", 1_000, 12, 3, 40, (3, 8), (1, 3), 4, 60_000, 120_000, 24_000, 12_000, 6_000),
    "medium": DemoSize("medium", 10_000, 60, 5, 300, (4, 10), (1, 3), 6, 600_000, 1_200_000, 240_000, 180_000, 60_000),
    "large": DemoSize(
        "large", 100_000, 400, 10, 2_000, (4, 12), (1, 3), 10, 5_000_000, 10_000_000, 2_000_000, 3_000_000, 1_000_000
    ),
}


def _large_fraction(name, divisor):
    """The large size with every count divided by `divisor` and per-entity shapes kept (chapters
    per course, enrollments per learner): the benchmark's scaling curve (make bench)."""
    large = SIZES["large"]
    return DemoSize(
        name,
        large.learners // divisor,
        large.instructors // divisor,
        max(1, large.admins // divisor),
        large.courses // divisor,
        large.chapters,
        large.videos_per_chapter,
        large.enrollments_per_learner,
        large.page_sessions // divisor,
        large.events // divisor,
        large.video_views // divisor,
        large.problem_responses // divisor,
        large.subsection_opens // divisor,
    )


SIZES["large-tenth"] = _large_fraction("large-tenth", 10)
SIZES["large-third"] = _large_fraction("large-third", 3)


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email_user: str  # the part before @<workspace>.example
    password: str
    name: str


# Fixed on purpose: they are printed by `make run` and `manage.py demo_logins`.
DEMO_LOGINS = (
    DemoLogin(Role.ADMIN, "admin", "demo-admin-pass", "Ada Admin"),
    DemoLogin(Role.INSTRUCTOR, "instructor", "demo-instructor-pass", "Ian Instructor"),
    DemoLogin(Role.LEARNER, "learner", "demo-learner-pass", "Lea Learner"),
)


def demo_email(login, workspace_slug=DEMO_WORKSPACE):
    return f"{login.email_user}@{workspace_slug}.example"


# --- vocabularies ------------------------------------------------------------------------------

FIRST_NAMES = (
    "Ava",
    "Liam",
    "Mia",
    "Noah",
    "Zoe",
    "Omar",
    "Aisha",
    "Kenji",
    "Yuki",
    "Lucas",
    "Sofia",
    "Mateo",
    "Priya",
    "Arjun",
    "Chen",
    "Mei",
    "Olga",
    "Ivan",
    "Fatima",
    "Youssef",
    "Grace",
    "Samuel",
    "Nia",
    "Kwame",
    "Elena",
    "Marco",
    "Ines",
    "Tomas",
    "Hana",
    "Jonas",
    "Sara",
    "David",
    "Amara",
    "Leo",
    "Maya",
    "Ethan",
    "Chloe",
    "Diego",
    "Lina",
    "Ravi",
)
LAST_NAMES = (
    "Smith",
    "Garcia",
    "Müller",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Nguyen",
    "Kim",
    "Patel",
    "Okafor",
    "Silva",
    "Santos",
    "Tanaka",
    "Ivanova",
    "Haddad",
    "Johnson",
    "Brown",
    "Lopez",
    "Martin",
    "Novak",
    "Schmidt",
    "Costa",
    "Singh",
    "Mensah",
    "Ahmed",
    "Cohen",
    "Larsen",
    "Yilmaz",
    "Fischer",
    "Moreau",
)
COUNTRIES = (
    ("US", 20),
    ("IN", 12),
    ("GB", 6),
    ("DE", 5),
    ("FR", 5),
    ("BR", 5),
    ("CA", 4),
    ("ES", 3),
    ("NG", 3),
    ("MX", 3),
    ("AU", 2),
    ("JP", 2),
    ("PL", 2),
    ("IT", 2),
    ("NL", 2),
    ("EG", 2),
    ("ZA", 2),
    ("KE", 1),
    ("PH", 2),
    ("ID", 2),
    ("CN", 2),
    ("TR", 1),
    ("SE", 1),
    ("AR", 1),
    ("CO", 1),
    ("PK", 2),
    ("BD", 1),
    ("VN", 1),
    ("UA", 1),
    ("", 4),
)
REGIONS = {
    "North America": {"US", "CA"},
    "LATAM": {"BR", "MX", "AR", "CO"},
    "APAC": {"IN", "AU", "JP", "PH", "ID", "CN", "PK", "BD", "VN"},
}  # everything else: EMEA
GENDERS = (("f", 45), ("m", 45), ("o", 3), ("", 7))
EDUCATION = (
    ("bachelors", 30),
    ("masters", 22),
    ("secondary", 14),
    ("associates", 7),
    ("doctorate", 4),
    ("junior_secondary", 3),
    ("primary", 2),
    ("none", 2),
    ("other", 5),
    ("", 11),
)
SOURCES = (("organic", 55), ("referral", 25), ("social", 15), ("", 5))
DEPARTMENTS = ("Engineering", "Sales", "Marketing", "Support", "Finance", "People", "Operations", "Product")
JOB_TITLES = ("Associate", "Specialist", "Analyst", "Engineer", "Senior Engineer", "Team Lead", "Manager", "Director")
COHORTS = ("Cohort 2025-Q3", "Cohort 2025-Q4", "Cohort 2026-Q1", "Cohort 2026-Q2", "New hires", "Mentors")
ORGS = ("SkillRiseX", "DemoU", "OpenLearn", "TechAcademy", "BizSchool")
SUBJECTS = (
    ("CS", "Web Development"),
    ("DS", "Data Science"),
    ("PY", "Python Programming"),
    ("ML", "Machine Learning"),
    ("SEC", "Cyber Security"),
    ("PM", "Project Management"),
    ("MKT", "Digital Marketing"),
    ("FIN", "Corporate Finance"),
    ("UX", "UX Design"),
    ("LDR", "Leadership"),
    ("COM", "Business Communication"),
    ("CLD", "Cloud Computing"),
    ("SQL", "Databases and SQL"),
    ("STA", "Statistics"),
    ("ENG", "Technical Writing"),
    ("HR", "People Management"),
    ("CMP", "Compliance"),
    ("SAL", "Sales Techniques"),
)
LEVELS = ("Introduction to", "Fundamentals of", "Intermediate", "Advanced", "Applied", "Practical")
CHAPTER_TOPICS = (
    "Getting Started",
    "Core Concepts",
    "Tools and Setup",
    "First Project",
    "Working with Data",
    "Best Practices",
    "Case Study",
    "Testing and Quality",
    "Going Further",
    "Patterns",
    "Review",
    "Final Project",
)
MODES = (("audit", 45), ("honor", 15), ("verified", 32), ("professional", 8))
LANGS = (("en", 70), ("fr", 8), ("es", 10), ("de", 6), ("pt", 6))
DEVICES = (("desktop", 60), ("mobile", 30), ("tablet", 10))
PLATFORMS = {
    "desktop": (("web", 1),),
    "mobile": (("ios", 45), ("android", 45), ("web", 10)),
    "tablet": (("ios", 60), ("android", 30), ("web", 10)),
}
OTHER_PAGES = (
    # (page, paths, weight, median seconds): pages the SkillRise analytics leave out, and Profile
    ("Home", ("/",), 30, 35),
    ("Browse Courses", ("/courses",), 22, 60),
    ("Analytics", ("/analytics",), 12, 90),
    ("Profile", ("/profile",), 16, 70),
    ("Other", ("/settings", "/notifications", "/help", "/certificates"), 20, 40),
)
EVENT_TYPES = (("played_video", 40), ("viewed", 33), ("attempted_problem", 22), ("posted_forum", 5))
EVENT_SOURCES = (("tracker", 70), ("xapi", 15), ("tracking_log", 10), ("import", 5))
VIEW_SOURCES = (("tracker", 85), ("xapi", 10), ("tracking_log", 5))
PROBLEM_DATA = (
    '{"grade":1,"max_grade":1,"success":"correct","attempts":1}',
    '{"grade":1,"max_grade":1,"success":"correct","attempts":2}',
    '{"grade":0,"max_grade":1,"success":"incorrect","attempts":1}',
    '{"grade":2,"max_grade":3,"success":"partially-correct","attempts":1}',
)
FORUM_DATA = ('{"category":"General"}', '{"category":"Questions"}', '{"category":"Course feedback"}')
# Problem parts: (kind, question with {topic}, options, indexes of the correct options). "choice"
# is a multiple choice (one option, value ids choice_0...), "checkbox" a list answer ([a|b] with
# value ids [choice_0|choice_2]), "numeric" a number typed in (no value id); the first wrong
# option is the tempting one.
PROBLEM_PARTS = (
    (
        "choice",
        "What is the first step of {topic}?",
        ("Define the goal", "Write the report", "Ask for a budget", "Skip the planning"),
        (0,),
    ),
    (
        "choice",
        "Which tool suits {topic} best?",
        ("A dedicated library", "A spreadsheet", "A whiteboard", "Email"),
        (0,),
    ),
    (
        "choice",
        "How often should you review your work in {topic}?",
        ("Only when it fails", "Once a year", "At every iteration", "Never"),
        (2,),
    ),
    (
        "choice",
        "Which statement about {topic} is true?",
        ("It always applies", "It depends on the context", "It is optional", "It is deprecated"),
        (1,),
    ),
    (
        "checkbox",
        "Select every good practice of {topic}.",
        ("Automate the checks", "Document decisions", "Ignore feedback", "Share the results"),
        (0, 1, 3),
    ),
    (
        "checkbox",
        "Which of these are risks in {topic}?",
        ("Missing data", "Unclear ownership", "Too many coffee breaks", "Scope creep"),
        (0, 1, 3),
    ),
    ("numeric", "How many phases does the {topic} model have?", ("4", "3", "5", "6"), (0,)),
)
PROGRAMS = (
    # (title, type, subject codes of its courses)
    ("Data Science", "XSeries", ("DS", "PY", "ML", "STA")),
    ("Web and Cloud Engineering", "Professional Certificate", ("CS", "SEC", "CLD", "SQL")),
    ("Business Leadership", "MicroMasters", ("PM", "MKT", "FIN", "LDR", "COM")),
)
PROGRAM_COURSES = 6  # at most, the first courses of its subjects
ROWS_PER_PROBLEM = 2.25  # response rows a learner leaves on a problem, on average (parts x attempts)
# Share of sessions kept on each weekday (Monday first): weekends are quieter.
WEEKDAY_WEIGHT = (1.0, 1.0, 0.96, 0.92, 0.8, 0.36, 0.3)
PAGE_SESSION_COURSE_SHARE = 0.72  # the rest are Home, Browse Courses, Analytics, Profile, Other


LOOKUP_BITS = 10
PROBLEM_ROLLUPS = (ProblemPartLatest, ProblemAnswerCount, ProblemLearnerLatest, ProblemGradeCount, SubsectionLearner)


def _weighted(pairs):
    """A table of 1024 values in proportion to their weights: a weighted draw is one index."""
    values, cumulative, total = [], [], 0
    for value, weight in pairs:
        total += weight
        values.append(value)
        cumulative.append(total)
    size = 1 << LOOKUP_BITS
    return [values[bisect(cumulative, (k + 0.5) * total / size)] for k in range(size)]


def _allocate(weights, total):
    """Split `total` into whole numbers proportional to weights, summing to exactly `total`."""
    weight_sum = math.fsum(weights)
    if weight_sum <= 0 or total <= 0:
        return [0] * len(weights)
    shares, running, previous = [], 0.0, 0
    for weight in weights:
        running += weight
        current = min(total, round(running * total / weight_sum))
        shares.append(current - previous)
        previous = current
    shares[-1] += total - previous
    return shares


def _allocate_capped(weights, caps, total):
    """_allocate, with no share above its cap: what a capped share cannot take goes to the others
    (less than `total` only when every share is full)."""
    shares = [0] * len(weights)
    open_ = [i for i, cap in enumerate(caps) if cap > 0]
    remaining = min(total, sum(caps))
    while remaining > 0 and open_:
        split = _allocate([weights[i] for i in open_], remaining)
        still_open = []
        for i, share in zip(open_, split):
            take = min(share, caps[i] - shares[i])
            shares[i] += take
            remaining -= take
            if shares[i] < caps[i]:
                still_open.append(i)
        if len(still_open) == len(open_):
            break  # nothing was capped: all placed
        open_ = still_open
    return shares


@dataclass
class _Course:
    index: int
    key: str
    title: str
    id: int = None
    chapters: list = None  # [[key, title, id]] in position order
    videos: list = None  # [[id, key, duration_s, segment_length_s, segment_count, chapter position]]
    length_s: int = 0


class DemoDataGenerator:
    """Makes one workspace's data. Use `generate_demo_data`, which wraps it in a transaction."""

    def __init__(self, workspace, size, *, seed=1, now=None, writer=None, log=None, in_database=None):
        self.workspace = workspace
        self.size = size
        self.seed = seed
        self.rng = random.Random(seed)
        digest = hashlib.sha256(f"{seed}/{workspace.slug}".encode()).digest()
        self.salt128 = int.from_bytes(digest[:16], "big")
        self.salt64 = int.from_bytes(digest[16:24], "big")
        now = now or datetime.now(UTC)
        self.anchor = int(now.timestamp()) // 3600 * 3600
        self.history_start = self.anchor - HISTORY_DAYS * DAY
        self.writer = writer or BulkWriter.for_connection()
        # Page sessions and events made by PostgreSQL itself (demo_data_sql) unless told otherwise.
        self.in_database = connection.vendor == "postgresql" if in_database is None else in_database
        self.log = log or (lambda message: None)
        self.domain = f"{workspace.slug}.example"
        self.counts = {}
        tables = random.Random(seed + 1)
        self.second_of_day = [self._draw_second_of_day(tables) for _ in range(4096)]
        self.countries = _weighted(COUNTRIES)
        self.genders = _weighted(GENDERS)
        self.education = _weighted(EDUCATION)
        self.sources = _weighted(SOURCES)
        self.modes = _weighted(MODES)
        self.langs = _weighted(LANGS)
        self.devices = _weighted(DEVICES)
        self.platforms = {device: _weighted(pairs) for device, pairs in PLATFORMS.items()}
        self.other_pages = _weighted((page, page[2]) for page in OTHER_PAGES)
        self.event_types = _weighted(EVENT_TYPES)
        self.event_sources = _weighted(EVENT_SOURCES)
        self.view_sources = _weighted(VIEW_SOURCES)
        self._segment_json = {}

    # --- small helpers ---------------------------------------------------------------------------

    def pick(self, table):
        return table[self.rng.getrandbits(LOOKUP_BITS)]

    def uuid_int(self):
        """A version-4-shaped UUID (as an int) from the seeded stream, salted per workspace."""
        value = self.rng.getrandbits(128) ^ self.salt128
        return (value & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)

    def object_id(self, at):
        """A 24-hex id shaped like a MongoDB ObjectId (seconds, then 8 bytes), salted per workspace."""
        return f"{at & 0xFFFFFFFF:08x}{self.rng.getrandbits(64) ^ self.salt64:016x}"

    @staticmethod
    def _draw_second_of_day(rng):
        """Learners study mostly late morning and in the evening."""
        r = rng.random()
        if r < 0.55:
            hours = rng.gauss(10.5, 2.2)
        elif r < 0.9:
            hours = rng.gauss(20.0, 1.8)
        else:
            hours = rng.uniform(0, 24)
        return int(min(max(hours, 0.0), 23.99) * 3600)

    def when(self, low, high):
        """A second in [low, high], with the weekly and daily rhythm of real learners."""
        rng = self.rng
        span = max(0, high - low)
        moment = low
        for _ in range(4):
            moment = low + int(rng.random() * span)
            if rng.random() < WEEKDAY_WEIGHT[(moment // DAY + 3) % 7]:
                break
        candidate = moment - moment % DAY + self.second_of_day[rng.getrandbits(12)] + rng.getrandbits(6)
        return candidate if low <= candidate <= high else moment

    def segments_json(self, first, last):
        key = (first, last)
        text = self._segment_json.get(key)
        if text is None:
            text = self._segment_json[key] = "[" + ",".join(map(str, range(first, last + 1))) + "]"
        return text

    def write(self, model, attnames, rows, total=None, label=None):
        written = self.writer.write(model, attnames, rows, total=total, label=label)
        self.counts[model._meta.label] = self.counts.get(model._meta.label, 0) + written
        return written

    # --- the whole run -----------------------------------------------------------------------------

    def run(self):
        for phase, make in (
            ("people", self.make_people),
            ("custom fields and groups", self.make_fields_and_groups),
            ("catalog", self.make_catalog),
            ("enrollments and attempts", self.make_enrollments_and_attempts),
            (
                "page sessions and events" + (" (in the database)" if self.in_database else ""),
                self.make_page_sessions_and_events,
            ),
            ("video views and reactions", self.make_video_views),
            ("problems, responses and subsection opens", self.make_problems),
            ("programs", self.make_programs),
        ):
            started = time.monotonic()
            make()
            self.log(f"  {phase}: {time.monotonic() - started:.1f} s")
        return self.counts

    # --- people ------------------------------------------------------------------------------------

    def make_people(self):
        size, rng, ws = self.size, self.rng, self.workspace
        self.log(f"People: {size.admins} admins, {size.instructors} instructors, {size.learners} learners")
        demo = {login.role: login for login in DEMO_LOGINS}
        people = []  # (email, role, first, last, joined_at, password, is_staff)
        for role, count in (
            (Role.ADMIN, size.admins),
            (Role.INSTRUCTOR, size.instructors),
            (Role.LEARNER, size.learners),
        ):
            for n in range(count):
                joined = self.anchor - int((30 + 400 * rng.random()) * DAY)
                if n == 0:
                    login = demo[role]
                    first, last = login.name.split(" ")
                    email = f"{login.email_user}@{self.domain}"
                    joined = self.anchor - 200 * DAY
                    people.append((email, role, first, last, joined, make_password(login.password), role == Role.ADMIN))
                    continue
                first, last = (
                    FIRST_NAMES[rng.getrandbits(16) % len(FIRST_NAMES)],
                    LAST_NAMES[rng.getrandbits(16) % len(LAST_NAMES)],
                )
                # The index n keeps emails unique; ASCII only (Müller -> muller) for every email parser.
                local = unicodedata.normalize("NFKD", f"{first}.{last}.{n}").encode("ascii", "ignore").decode()
                email = f"{'' if role == Role.LEARNER else role + '.'}{local}@{self.domain}".lower()
                people.append((email, role, first, last, joined, "!", False))
        self.people = people
        # Per person, kept for later phases: country, preferred device, engagement.
        self.country_of, self.device_of, self.engagement_of = [], [], []

        def user_rows():
            for email, role, first, last, joined, password, is_staff in people:
                country = self.pick(self.countries)
                birth_year = None if rng.random() < 0.08 else int(min(2008, max(1945, rng.gauss(1989, 11))))
                self.country_of.append(country)
                self.device_of.append(self.pick(self.devices))
                self.engagement_of.append(rng.lognormvariate(0, 0.8))
                yield (
                    password,
                    None,
                    is_staff,
                    first,
                    last,
                    is_staff,
                    True,
                    joined,
                    email,
                    self.object_id(joined),
                    "",
                    birth_year,
                    self.pick(self.genders),
                    self.pick(self.education),
                    country,
                    self.pick(self.sources),
                )

        self.write(
            User,
            (
                "password",
                "last_login",
                "is_superuser",
                "first_name",
                "last_name",
                "is_staff",
                "is_active",
                "date_joined",
                "email",
                "public_id",
                "avatar_url",
                "birth_year",
                "gender",
                "education_level",
                "country",
                "source",
            ),
            user_rows(),
            total=len(people),
            label="users",
        )
        ids = dict(User.objects.filter(email__endswith=f"@{self.domain}").values_list("email", "id"))
        self.user_ids = [ids[person[0]] for person in people]
        self.write(
            Membership,
            ("user_id", "workspace_id", "role", "joined_at"),
            ((self.user_ids[i], ws.pk, p[1], p[4]) for i, p in enumerate(people)),
            total=len(people),
            label="memberships",
        )
        self.admins = [i for i, p in enumerate(people) if p[1] == Role.ADMIN]
        self.instructors = [i for i, p in enumerate(people) if p[1] == Role.INSTRUCTOR]
        self.learners = [i for i, p in enumerate(people) if p[1] == Role.LEARNER]

    def make_fields_and_groups(self):
        rng, ws = self.rng, self.workspace
        fields = {
            name: CustomField.objects.create(workspace=ws, name=name, public_id=self.object_id(self.anchor))
            for name in ("Department", "Region", "Job Title")
        }
        groups = {
            name: LearnerGroup.objects.create(workspace=ws, name=name, public_id=self.object_id(self.anchor))
            for name in DEPARTMENTS + COHORTS
        }
        values, members = [], []
        for i in self.instructors + self.learners:
            user_id = self.user_ids[i]
            department = DEPARTMENTS[rng.getrandbits(16) % len(DEPARTMENTS)]
            if rng.random() < 0.95:
                values.append((fields["Department"].pk, user_id, department))
                members.append((groups[department].pk, user_id))
            if rng.random() < 0.95:
                country = self.country_of[i]
                region = next((name for name, codes in REGIONS.items() if country in codes), "EMEA")
                values.append((fields["Region"].pk, user_id, region))
            if rng.random() < 0.9:
                values.append((fields["Job Title"].pk, user_id, JOB_TITLES[int(len(JOB_TITLES) * rng.random() ** 1.6)]))
            if rng.random() < 0.4:
                members.append((groups[COHORTS[rng.getrandbits(16) % len(COHORTS)]].pk, user_id))
        self.write(CustomFieldValue, ("field_id", "user_id", "value"), values, total=len(values), label="custom values")
        through = LearnerGroup.members.through
        self.write(through, ("learnergroup_id", "user_id"), members, total=len(members), label="group members")

    # --- catalog -----------------------------------------------------------------------------------

    def make_catalog(self):
        size, rng, ws = self.size, self.rng, self.workspace
        courses = []
        for index in range(size.courses):
            code, subject = SUBJECTS[index % len(SUBJECTS)]
            level = LEVELS[(index // len(SUBJECTS)) % len(LEVELS)]
            series = index // (len(SUBJECTS) * len(LEVELS))
            title = f"{level} {subject}" + (f" {series + 1}" if series else "")
            if index % 5 in (1, 3):
                # 24-hex ids as SkillRise makes them (seconds, then 8 bytes); fixed, not time-based.
                key = f"{0x60D5EC49 + index * 3600:08x}{(index * 0x9E3779B97F4A7C15 + self.seed) % 2**64:016x}"
            else:
                org = ORGS[index % len(ORGS)]
                key = f"course-v1:{org}+{code}{100 + index}+{2025 + index % 2}_T{1 + index % 3}"
            courses.append(_Course(index, key, title))
        self.courses = courses
        created = self.anchor - 500 * DAY
        self.write(
            Course,
            (
                "workspace_id",
                "key",
                "title",
                "thumbnail",
                "created_at",
                "start",
                "end",
                "pacing",
                "catalog_course",
                "catalog_title",
            ),
            (
                (
                    ws.pk,
                    c.key,
                    c.title,
                    f"https://images.{self.domain}/courses/{c.index}.jpg",
                    created + c.index * 600,
                    *self._catalog_facts(c, created),
                )
                for c in courses
            ),
            total=len(courses),
            label="courses",
        )
        ids = dict(Course.objects.filter(workspace=ws).values_list("key", "id"))
        for course in courses:
            course.id = ids[course.key]
        # Zipf-like popularity: the course at rank r is chosen with weight 1 / (r + 1) ** 0.95.
        self.course_cumulative = list(itertools.accumulate(1 / (c.index + 1) ** 0.95 for c in courses))

        # Every course has an instructor; the demo instructor teaches the three most popular.
        teach = []
        instructors = [self.user_ids[i] for i in self.instructors]
        for course in courses:
            teachers = {instructors[course.index % len(instructors)]}
            if rng.random() < 0.25 and len(instructors) > 1:
                teachers.add(instructors[rng.getrandbits(16) % len(instructors)])
            if course.index < 3:
                teachers.add(instructors[0])
            teach.extend((course.id, user_id) for user_id in sorted(teachers))
        self.write(Course.instructors.through, ("course_id", "user_id"), teach, total=len(teach), label="instructors")

        chapter_rows = []
        for course in courses:
            count = rng.randint(*size.chapters)
            course.chapters = []
            for position in range(count):
                if course.key.startswith("course-v1:"):
                    key = f"{rng.getrandbits(128):032x}"
                else:
                    key = f"chapter{position + 1}"
                title = f"{position + 1}. {CHAPTER_TOPICS[position % len(CHAPTER_TOPICS)]}"
                course.chapters.append([key, title, None])
                chapter_rows.append((course.id, key, title, position))
        self.write(
            Chapter, ("course_id", "key", "title", "position"), chapter_rows, total=len(chapter_rows), label="chapters"
        )
        chapter_ids = {
            (course_id, key): pk
            for course_id, key, pk in Chapter.objects.filter(course__workspace=ws).values_list("course_id", "key", "id")
        }
        video_rows, counter = [], 0
        for course in courses:
            course.videos = []
            for position, chapter in enumerate(course.chapters):
                chapter[2] = chapter_ids[(course.id, chapter[0])]
                for n in range(rng.randint(*size.videos_per_chapter)):
                    counter += 1
                    key = f"vid_{(counter * 0x9E3779B1 + self.seed) % 2**40:010x}"
                    duration = int(90 + 800 * rng.random() ** 1.5)
                    segment = 5 if rng.random() < 0.3 else 10
                    course.videos.append([None, key, duration, segment, -(-duration // segment), position])
                    course.length_s += duration
                    video_rows.append(
                        (ws.pk, course.id, chapter[2], key, f"{chapter[1]}, part {n + 1}", duration, segment, created)
                    )
        self.write(
            Video,
            ("workspace_id", "course_id", "chapter_id", "key", "title", "duration_s", "segment_length_s", "created_at"),
            video_rows,
            total=len(video_rows),
            label="videos",
        )
        video_ids = dict(Video.objects.filter(workspace=ws).values_list("key", "id"))
        for course in courses:
            for video in course.videos:
                video[0] = video_ids[video[1]]
        self.log(f"Catalog: {len(courses)} courses, {len(chapter_rows)} chapters, {len(video_rows)} videos")

    def _catalog_facts(self, course, created):
        """(start, end, pacing, catalog course, catalog title) of a course, from its index alone (a
        stream of its own, so the rest of the data does not move): most courses are running, one in
        eight has ended (archived), one starts later (upcoming) and one has no known dates."""
        rng = random.Random(f"{self.seed}/catalog/{course.index}")
        code, subject = SUBJECTS[course.index % len(SUBJECTS)]
        if course.key.startswith("course-v1:"):
            catalog_course = course.key.removeprefix("course-v1:").rsplit("+", 1)[0]
        else:
            catalog_course = f"SkillRise+{code}{100 + course.index}"
        pacing = (CoursePacing.SELF_PACED if rng.random() < 0.4 else CoursePacing.INSTRUCTOR_PACED).value
        phase = course.index % 8
        if phase == 7:
            return None, None, pacing, catalog_course, course.title
        if phase == 3:  # archived
            start = self.anchor - rng.randint(200, 400) * DAY
            end = start + rng.randint(60, 150) * DAY
        elif phase == 6:  # upcoming
            start = self.anchor + rng.randint(10, 60) * DAY
            end = start + rng.randint(60, 150) * DAY
        else:  # running: started before the history window, ends later (self-paced: often never)
            start = max(created, self.anchor - rng.randint(HISTORY_DAYS + 10, 360) * DAY)
            end = (
                None
                if pacing == CoursePacing.SELF_PACED and rng.random() < 0.6
                else self.anchor + rng.randint(30, 200) * DAY
            )
        start -= start % 3600
        if end is not None:
            end -= end % 3600
        return start, end, pacing, catalog_course, course.title

    # --- enrollments and attempts ------------------------------------------------------------------

    def _choose_courses(self, count):
        rng, cumulative = self.rng, self.course_cumulative
        total, chosen = cumulative[-1], []
        count = min(count, len(self.courses))
        while len(chosen) < count:
            index = bisect(cumulative, rng.random() * total)
            if index not in chosen:
                chosen.append(index)
        return chosen

    def make_enrollments_and_attempts(self):
        rng, size = self.rng, self.size
        enrollments, attempts = [], []
        # Activity plan, one entry per enrollment with activity in the history window:
        # (person index, user id, course, low, high, chapters reached)
        self.plan, self.plan_weights = [], []
        demo_learner = self.learners[0]
        for person in self.learners:
            if person == demo_learner:
                for course_index, state in zip(
                    self._demo_learner_courses(), ("APPROVED", "IN_PROGRESS", "IN_PROGRESS", "FAILED", "NOT_STARTED")
                ):
                    self._enroll(person, course_index, enrollments, attempts, force_state=state)
                continue
            count = 1 + int(rng.random() * (2 * size.enrollments_per_learner - 1))
            for course_index in self._choose_courses(count):
                self._enroll(person, course_index, enrollments, attempts)
        self.write(
            Enrollment,
            (
                "workspace_id",
                "user_id",
                "course_id",
                "mode",
                "kind",
                "enrolled_at",
                "unenrolled_at",
                "expires_at",
                "updated_at",
            ),
            enrollments,
            total=len(enrollments),
            label="enrollments",
        )
        self.write(
            Attempt,
            (
                "workspace_id",
                "public_id",
                "user_id",
                "course_id",
                "version_number",
                "lang",
                "state",
                "progress",
                "score",
                "time_spent_s",
                "first_activity_at",
                "last_activity_at",
                "completed_at",
                "certificate_issued_at",
                "expires_at",
                "path_id",
                "path_session_id",
                "created_at",
                "updated_at",
            ),
            attempts,
            total=len(attempts),
            label="attempts",
        )

    def _demo_learner_courses(self):
        count = len(self.courses)
        return list(dict.fromkeys([0, 1 % count, 2 % count, 3 % count, min(5, count - 1)]))

    def _enroll(self, person, course_index, enrollments, attempts, force_state=None):
        rng, anchor, ws = self.rng, self.anchor, self.workspace
        course = self.courses[course_index]
        user_id = self.user_ids[person]
        joined = self.people[person][4]
        is_demo = force_state is not None
        enrolled = joined + int(rng.random() * (anchor - joined - 3600))
        if is_demo:
            enrolled = anchor - (1 if force_state == "NOT_STARTED" else 100 - course_index * 7) * DAY
        mode = self.pick(self.modes)
        kind = "MANDATORY" if rng.random() < 0.3 else "OPTIONAL"
        expires = None
        if rng.random() < (0.6 if kind == "MANDATORY" else 0.1):
            expires = enrolled + rng.randint(30, 150) * DAY
        age = anchor - enrolled
        if force_state:
            state = force_state
            expires = None
            if state == "APPROVED":
                mode = "verified"
        elif age < 2 * DAY and rng.random() < 0.5:
            state = "NOT_STARTED"
        else:
            r = rng.random()
            state = (
                "NOT_STARTED"
                if r < 0.12
                else "IN_PROGRESS"
                if r < 0.6
                else "APPROVED"
                if r < 0.86
                else "FAILED"
                if r < 0.94
                else "EXPIRED"
            )
        if state == "EXPIRED" and (expires is None or expires >= anchor):
            if age > 10 * DAY:
                expires = enrolled + int(rng.uniform(0.3, 0.95) * age)
            else:
                state = "IN_PROGRESS"
        if state == "IN_PROGRESS" and expires is not None and expires < anchor:
            state = "EXPIRED"

        first = last = completed = certificate = score = None
        progress, spent = 0, 0
        if state != "NOT_STARTED":
            first = min(anchor - 1800, enrolled + int(rng.random() * min(3 * DAY, age / 4)))
            if state in ("APPROVED", "FAILED"):
                completed = min(anchor - 600, first + int((1 + 60 * rng.random()) * DAY))
                last = completed
                progress = 100 if state == "APPROVED" else rng.randint(60, 100)
                score = rng.randint(70, 100) if state == "APPROVED" else rng.randint(10, 69)
                if mode in ("verified", "professional") or (mode == "honor" and rng.random() < 0.5):
                    if state == "APPROVED":
                        certificate = min(anchor - 60, completed + int(rng.random() * 2 * DAY))
            elif state == "EXPIRED":
                last = min(expires - 60, first + int(rng.random() * (expires - first)))
                progress = rng.randint(1, 90)
                score = rng.randint(0, 60) if rng.random() < 0.4 else None
            else:
                # In progress: most were active recently.
                last = anchor - 600 - int((anchor - 600 - first) * rng.random() ** 3)
                progress = int(1 + 94 * rng.random() ** 1.4)
                score = rng.randint(0, 100) if rng.random() < 0.5 else None
            if is_demo and state == "IN_PROGRESS":
                last = anchor - 600
                progress = 60 if course_index == self._demo_learner_courses()[1] else 25
            spent = int(course.length_s * 1.8 * progress / 100 * rng.uniform(0.6, 1.5)) + rng.randint(0, 300)
        unenrolled = None
        if not is_demo and state != "APPROVED" and rng.random() < 0.07:
            unenrolled = enrolled + int(rng.random() * age)
            if last is not None and last > unenrolled:
                last = max(first, unenrolled)
                if completed is not None:
                    completed = last
        lang = self.pick(self.langs)
        path_id = path_session = ""
        if rng.random() < 0.1:
            path_id = f"{self.salt64 % 2**32:08x}{rng.randint(1, 6):016x}"
            path_session = self.object_id(enrolled)
        updated = last or enrolled
        enrollments.append((ws.pk, user_id, course.id, mode, kind, enrolled, unenrolled, expires, updated))
        attempts.append(
            (
                ws.pk,
                self.object_id(enrolled),
                user_id,
                course.id,
                0,
                lang,
                state,
                progress,
                score,
                spent,
                first,
                last,
                completed,
                certificate,
                expires,
                path_id,
                path_session,
                enrolled,
                updated,
            )
        )
        if state in ("APPROVED", "FAILED") and not is_demo and rng.random() < 0.06 and completed < anchor - 2 * DAY:
            # A retake of the next version of the course.
            retake_first = completed + int(rng.random() * (anchor - completed) / 2)
            retake_last = retake_first + int(rng.random() * (anchor - retake_first))
            attempts.append(
                (
                    ws.pk,
                    self.object_id(retake_first),
                    user_id,
                    course.id,
                    1,
                    lang,
                    "IN_PROGRESS",
                    rng.randint(5, 80),
                    None,
                    rng.randint(300, 20_000),
                    retake_first,
                    retake_last,
                    None,
                    None,
                    None,
                    "",
                    "",
                    retake_first,
                    retake_last,
                )
            )

        if first is not None:
            low = max(first, self.history_start)
            high = min(last, anchor - 60)
            if high > low:
                chapters = len(course.chapters)
                reached = chapters if progress >= 100 else max(1, math.ceil(progress / 100 * chapters))
                intensity = {"APPROVED": 1.2, "IN_PROGRESS": 1.0, "FAILED": 1.0, "EXPIRED": 0.6}[state]
                days = max(1.0, (high - low) / DAY)
                weight = self.engagement_of[person] * intensity * days**0.7 * (6 if is_demo else 1)
                self.plan.append((person, user_id, course_index, low, high, reached))
                self.plan_weights.append(weight)

    # --- page sessions and learning events -----------------------------------------------------------

    PAGE_SESSION_FIELDS = (
        "id",
        "workspace_id",
        "user_id",
        "page",
        "path",
        "started_at",
        "duration_s",
        "course_id",
        "course_key",
        "chapter_key",
        "device",
        "received_at",
    )
    EVENT_FIELDS = (
        "id",
        "workspace_id",
        "user_id",
        "course_id",
        "type",
        "object",
        "occurred_at",
        "source",
        "data",
        "received_at",
    )

    def make_page_sessions_and_events(self):
        """Course sessions and events per enrollment, other pages per learner, by the plan's weights."""
        total = self.size.page_sessions
        course_total = int(total * PAGE_SESSION_COURSE_SHARE)
        sessions_per_entry = _allocate(self.plan_weights, course_total)
        # Pages outside courses, per learner, in proportion to how engaged they are.
        sessions_per_person = _allocate(
            [self.engagement_of[p] * (6 if p == self.learners[0] else 1) for p in self.learners], total - course_total
        )
        events_per_entry = _allocate(self.plan_weights, self.size.events)
        if self.in_database:
            self._page_sessions_and_events_in_database(sessions_per_entry, sessions_per_person, events_per_entry)
            return
        self.write(
            PageSession,
            self.PAGE_SESSION_FIELDS,
            itertools.chain(
                self._course_session_rows(sessions_per_entry),
                self._other_session_rows(sessions_per_person),
                self._demo_learner_recent_sessions(),
            ),
            total=total + 40,
            label="page sessions",
        )
        self.write(
            LearningEvent, self.EVENT_FIELDS, self._event_rows(events_per_entry), total=self.size.events, label="events"
        )

    def _page_sessions_and_events_in_database(self, sessions_per_entry, sessions_per_person, events_per_entry):
        """PostgreSQL: COPY the plan to temporary tables, expand it with generate_series (demo_data_sql)."""
        from . import demo_data_sql as sql

        params = {
            "seed": sql.seed_base(self.seed),
            "salt": f"{self.salt128:032x}",
            "workspace": self.workspace.pk,
            "second_of_day": self.second_of_day,
            "problem_data": list(PROBLEM_DATA),
            "problem_count": len(PROBLEM_DATA),
            "forum_data": list(FORUM_DATA),
            "forum_count": len(FORUM_DATA),
        }
        with connection.cursor() as django_cursor:
            cursor = django_cursor.cursor
            # The planner's cost estimates make it JIT-compile each chunk's query, which costs more
            # (about a second a chunk) than running it.
            cursor.execute("SET LOCAL jit = off")
            sql.create_plan_tables(cursor)
            plan_rows = (
                (
                    ord_,
                    user_id,
                    self.courses[ci].id,
                    self.courses[ci].key,
                    low,
                    high,
                    self.device_of[person],
                    sql.text_array([chapter[0] for chapter in self.courses[ci].chapters[:reached]]),
                    sql.text_array([video[1] for video in self._reached_videos(self.courses[ci], reached)]),
                    sessions,
                    events,
                )
                for ord_, ((person, user_id, ci, low, high, reached), sessions, events) in enumerate(
                    zip(self.plan, sessions_per_entry, events_per_entry)
                )
            )
            sql.copy_rows(
                cursor,
                sql.PLAN_TABLE,
                (
                    "ord",
                    "user_id",
                    "course_id",
                    "course_key",
                    "low",
                    "high",
                    "device",
                    "chapters",
                    "videos",
                    "sessions",
                    "events",
                ),
                plan_rows,
            )
            people_rows = (
                (
                    ord_,
                    self.user_ids[person],
                    max(self.people[person][4], self.history_start),
                    self.anchor - 60,
                    self.device_of[person],
                    sessions,
                )
                for ord_, (person, sessions) in enumerate(zip(self.learners, sessions_per_person))
            )
            sql.copy_rows(
                cursor, sql.PEOPLE_TABLE, ("ord", "user_id", "low", "high", "device", "sessions"), people_rows
            )
            chunk = max(1, len(self.plan) // 20)
            with self.writer.progress_bar(sum(sessions_per_entry) + sum(sessions_per_person), "page sessions") as bar:
                made = sql.run_in_chunks(cursor, sql.COURSE_SESSIONS_SQL, params, len(self.plan), chunk, bar.update)
                made += sql.run_in_chunks(
                    cursor, sql.OTHER_PAGES_SQL, params, len(self.learners), max(1, len(self.learners) // 5), bar.update
                )
            self.counts[PageSession._meta.label] = made
            with self.writer.progress_bar(sum(events_per_entry), "events") as bar:
                made = sql.run_in_chunks(cursor, sql.EVENTS_SQL, params, len(self.plan), chunk, bar.update)
            self.counts[LearningEvent._meta.label] = made
            sql.drop_plan_tables(cursor)
        self.write(PageSession, self.PAGE_SESSION_FIELDS, self._demo_learner_recent_sessions(), label="recent sessions")

    @staticmethod
    def _reached_videos(course, reached):
        return [video for video in course.videos if video[5] < reached] or course.videos[:1]

    def _course_session_rows(self, per_entry):
        rng, ws_id, courses = self.rng, self.workspace.pk, self.courses
        rnd, lognormal = rng.random, rng.lognormvariate
        for (person, user_id, course_index, low, high, reached), count in zip(self.plan, per_entry):
            if not count:
                continue
            course = courses[course_index]
            player = f"/player/{course.key}"
            preferred = self.device_of[person]
            for _ in range(count):
                started = self.when(low, high)
                device = preferred if rnd() < 0.8 else self.pick(self.devices)
                r = rnd()
                if r < 0.62:
                    duration = min(4 * 3600, int(lognormal(6.2, 0.8)))
                    row = ("Course Player", player, course.id, course.key, "")
                elif r < 0.87:
                    chapter = course.chapters[max(0, reached - 1 - int(reached * rnd() ** 2))]
                    duration = min(3600, int(lognormal(5.3, 0.7)))
                    row = ("Quiz", f"/quiz/{course.key}/{chapter[0]}", course.id, course.key, chapter[0])
                else:
                    duration = min(1800, int(lognormal(3.5, 0.8)))
                    row = ("Course Details", f"/courses/{course.key}", None, "", "")
                yield (
                    self.uuid_int(),
                    ws_id,
                    user_id,
                    row[0],
                    row[1],
                    started,
                    duration,
                    row[2],
                    row[3],
                    row[4],
                    device,
                    started + duration + rng.getrandbits(4),
                )

    def _other_session_rows(self, per_person):
        rng, ws_id = self.rng, self.workspace.pk
        rnd, lognormal = rng.random, rng.lognormvariate
        for person, count in zip(self.learners, per_person):
            if not count:
                continue
            low = max(self.people[person][4], self.history_start)
            user_id, preferred = self.user_ids[person], self.device_of[person]
            for _ in range(count):
                page, paths, _, median = self.pick(self.other_pages)
                path = paths[0] if len(paths) == 1 else paths[rng.getrandbits(8) % len(paths)]
                started = self.when(low, self.anchor - 60)
                duration = min(1800, int(median * lognormal(0, 0.9)))
                device = preferred if rnd() < 0.8 else self.pick(self.devices)
                yield (
                    self.uuid_int(),
                    ws_id,
                    user_id,
                    page,
                    path,
                    started,
                    duration,
                    None,
                    "",
                    "",
                    device,
                    started + duration + rng.getrandbits(4),
                )

    def _demo_learner_recent_sessions(self):
        """The demo learner studied on each of the last 10 days (today too, when the hour allows)."""
        rng, ws_id = self.rng, self.workspace.pk
        person = self.learners[0]
        user_id = self.user_ids[person]
        entries = [entry for entry in self.plan if entry[0] == person]
        if not entries:
            return
        today = self.anchor - self.anchor % DAY
        for days_ago in range(10):
            day = today - days_ago * DAY
            weekend = (day // DAY + 3) % 7 >= 5
            for n in range(1 + (0 if weekend else 2) + rng.randint(0, 1)):
                _, _, course_index, _, _, reached = entries[(days_ago + n) % len(entries)]
                course = self.courses[course_index]
                started = day + 8 * 3600 + n * 4 * 3600 + rng.randint(0, 3000)
                if started >= self.anchor - 1800:
                    started = self.anchor - 1800 - n * 600
                if started < day:
                    continue
                if n % 2 == 0:
                    row = ("Course Player", f"/player/{course.key}", course.key, "", rng.randint(600, 2400))
                else:
                    chapter = course.chapters[rng.randint(0, reached - 1)]
                    row = ("Quiz", f"/quiz/{course.key}/{chapter[0]}", course.key, chapter[0], rng.randint(120, 900))
                duration = min(row[4], self.anchor - 60 - started)
                yield (
                    self.uuid_int(),
                    ws_id,
                    user_id,
                    row[0],
                    row[1],
                    started,
                    duration,
                    course.id,
                    row[2],
                    row[3],
                    self.device_of[person],
                    started + duration + 2,
                )

    def _event_rows(self, per_entry):
        rng, ws_id, courses = self.rng, self.workspace.pk, self.courses
        rnd = rng.random
        for (person, user_id, course_index, low, high, reached), count in zip(self.plan, per_entry):
            if not count:
                continue
            course = courses[course_index]
            videos = self._reached_videos(course, reached)
            for _ in range(count):
                occurred = self.when(low, high)
                kind = self.pick(self.event_types)
                if kind == "played_video":
                    obj, data = videos[int(len(videos) * rnd() ** 1.5)][1], "{}"
                elif kind == "attempted_problem":
                    chapter = course.chapters[int(reached * rnd())]
                    obj, data = f"{chapter[0]}/problem-{1 + rng.getrandbits(2)}", PROBLEM_DATA[rng.getrandbits(2)]
                elif kind == "viewed":
                    chapter = course.chapters[int(reached * rnd())]
                    obj, data = chapter[0], "{}"
                else:
                    obj, data = f"thread-{rng.getrandbits(32):08x}", FORUM_DATA[rng.getrandbits(8) % 3]
                yield (
                    self.uuid_int(),
                    ws_id,
                    user_id,
                    course.id,
                    kind,
                    obj,
                    occurred,
                    self.pick(self.event_sources),
                    data,
                    occurred + rng.getrandbits(5),
                )

    # --- video views and reactions -----------------------------------------------------------------

    def make_video_views(self):
        weights = [
            weight * reached / len(self.courses[entry[2]].chapters)
            for entry, weight in zip(self.plan, self.plan_weights)
            for reached in [entry[5]]
        ]
        per_entry = _allocate(weights, self.size.video_views)
        self.reactions = []
        self.write(
            VideoView,
            VIDEO_VIEW_COLUMNS,
            self._video_view_rows(per_entry),
            total=self.size.video_views,
            label="video views",
        )
        seen, reactions = set(), []
        for row in self.reactions:
            if row[1:] not in seen:
                seen.add(row[1:])
                reactions.append(row)
        self.write(
            VideoReaction,
            ("workspace_id", "user_id", "video_id", "type", "at"),
            reactions,
            total=len(reactions),
            label="reactions",
        )

    def _video_view_rows(self, per_entry):
        rng, ws_id, courses = self.rng, self.workspace.pk, self.courses
        rnd = rng.random
        reactions = self.reactions
        for (person, user_id, course_index, low, high, reached), count in zip(self.plan, per_entry):
            if not count:
                continue
            course = courses[course_index]
            videos = self._reached_videos(course, reached)
            furthest = len(videos) - 1
            preferred, country = self.device_of[person], self.country_of[person]
            position = {}  # video index -> next segment to watch (views of one video resume)
            # Views come in time order, so a resumed view is later than the one it resumes.
            for started in sorted(self.when(low, high) for _ in range(count)):
                j = int(len(videos) * rnd() ** 1.6)  # earlier videos are watched more: drop-off
                video_id, _, duration, segment, segments, _ = videos[j]
                first = position.get(j, 0)
                if first >= segments - 1 or rnd() < 0.15:
                    first = 0  # watch again from the start
                if rnd() < (0.7 if j < furthest else 0.3):
                    last = segments - 1
                else:
                    last = first + int((segments - 1 - first) * rng.uniform(0.1, 0.9))
                position[j] = last + 1
                if last - first > 4 and rnd() < 0.12:
                    gap = rng.randint(first + 1, last - 2)
                    watched = [s for s in range(first, last + 1) if not gap <= s < gap + 2]
                    seg_json = "[" + ",".join(map(str, watched)) + "]"
                    seen_count = len(watched)
                else:
                    seg_json = self.segments_json(first, last)
                    seen_count = last - first + 1
                watched_s = int(min(duration, seen_count * segment) * rng.uniform(0.9, 1.25))
                position_s = min(duration, (last + 1) * segment)
                device = preferred if rnd() < 0.85 else self.pick(self.devices)
                platform = self.pick(self.platforms[device])
                if rnd() < 0.9:
                    mobile = device != "desktop"
                    buffering = round(rng.expovariate(1 / (2.5 if mobile else 1.0)), 1)
                    bitrate = rng.randint(600, 2500) if mobile else rng.randint(2000, 6000)
                    errors = 0 if rnd() < 0.93 else rng.randint(1, 3)
                else:
                    buffering = bitrate = errors = None
                watched_last = last == segments - 1
                yield (
                    self.uuid_int(),
                    ws_id,
                    user_id,
                    video_id,
                    course.id,
                    started,
                    watched_s,
                    position_s,
                    seg_json,
                    first == 0,
                    watched_last,
                    watched_last,
                    device,
                    platform,
                    country,
                    buffering,
                    bitrate,
                    errors,
                    self.pick(self.view_sources),
                    started + watched_s + 5,
                )
                r = rnd()
                if r < 0.09:
                    kind = "like" if r < 0.06 else "comment" if r < 0.08 else "share"
                    reactions.append((ws_id, user_id, video_id, kind, started + watched_s))

    # --- problems, their responses, subsection opens -------------------------------------------------

    RESPONSE_FIELDS = (
        "id",
        "workspace_id",
        "user_id",
        "course_id",
        "problem_key",
        "part_id",
        "answer",
        "value_id",
        "correct",
        "grade",
        "max_grade",
        "variant",
        "attempt",
        "submitted_at",
        "question",
        "problem_name",
        "source",
        "received_at",
    )

    def make_problems(self):
        """Subsections (1-3 a chapter) holding problems of 1-3 parts; learners answer the problems of
        the chapters they reached, in order, 1-3 times each (a wrong answer makes a retry likely, and
        retries are right more often), and open the subsections of those chapters.

        Rows are bulk written (COPY on PostgreSQL), then `generate_demo_data` recomputes the rollups
        with `rebuild_problem_rollups`, the service's own full rebuild."""
        rng = self.rng
        problem_count = 0
        for course in self.courses:
            if course.key.startswith("course-v1:"):
                block_prefix = "block-v1:" + course.key.removeprefix("course-v1:")
            else:
                block_prefix = f"block-v1:SkillRise+{course.key}+self"
            course.subsections = []  # [(chapter position, key)]
            course.problems = []  # [(chapter position, key, name, [(part id, PROBLEM_PARTS entry)])]
            for position, chapter in enumerate(course.chapters):
                topic = CHAPTER_TOPICS[position % len(CHAPTER_TOPICS)]
                for _ in range(rng.randint(1, 3)):
                    course.subsections.append(
                        (position, f"{block_prefix}+type@sequential+block@{rng.getrandbits(128):032x}")
                    )
                    problems_here = 0 if rng.random() < 0.3 else 1 if rng.random() < 0.75 else 2
                    if position == 0 and not course.problems:
                        problems_here = max(1, problems_here)
                    for _ in range(problems_here):
                        block = f"{rng.getrandbits(128):032x}"
                        checkpoint = sum(1 for problem in course.problems if problem[0] == position) + 1
                        parts = [
                            (f"{block}_{n + 2}_1", PROBLEM_PARTS[rng.getrandbits(8) % len(PROBLEM_PARTS)])
                            for n in range(1 + int(3 * rng.random() ** 1.5))
                        ]
                        course.problems.append(
                            (
                                position,
                                f"{block_prefix}+type@problem+block@{block}",
                                f"{topic}: checkpoint {checkpoint}",
                                [(part_id, entry, entry[1].format(topic=topic.lower())) for part_id, entry in parts],
                            )
                        )
            problem_count += len(course.problems)
        self.log(f"Problems: {problem_count} in {len(self.courses)} courses")
        weights = [
            weight * entry[5] / len(self.courses[entry[2]].chapters)
            for entry, weight in zip(self.plan, self.plan_weights)
        ]
        capacity = [
            sum(1 for problem in self.courses[entry[2]].problems if problem[0] < entry[5]) for entry in self.plan
        ]
        per_entry = _allocate_capped(weights, capacity, round(self.size.problem_responses / ROWS_PER_PROBLEM))
        self.write(
            ProblemResponse,
            self.RESPONSE_FIELDS,
            self._response_rows(per_entry),
            total=self.size.problem_responses,
            label="problem responses",
        )
        per_entry = _allocate(weights, self.size.subsection_opens)
        self.write(
            SubsectionOpen,
            ("id", "workspace_id", "user_id", "course_id", "subsection_key", "opened_at", "source", "received_at"),
            self._subsection_open_rows(per_entry),
            total=self.size.subsection_opens,
            label="subsection opens",
        )

    def _response_rows(self, per_entry):
        rng, ws_id, courses, last_second = self.rng, self.workspace.pk, self.courses, self.anchor - 60
        rnd = rng.random
        for (person, user_id, course_index, low, high, reached), count in zip(self.plan, per_entry):
            if not count:
                continue
            course = courses[course_index]
            problems = [problem for problem in course.problems if problem[0] < reached]
            skill = min(0.9, 0.35 + 0.25 * self.engagement_of[person])
            source = self.pick(self.view_sources)
            # `count` problems, mostly the first ones in course order.
            order = sorted(range(len(problems)), key=lambda i: i + 3 * rnd())[:count]
            for _, problem_key, problem_name, parts in (problems[i] for i in sorted(order)):
                submitted = self.when(low, high)
                for attempt in range(1, 4):
                    if submitted > last_second:
                        break
                    chance = skill + 0.2 * (attempt - 1)
                    answers = [self._answer(entry, rnd() < chance) for _, entry, _ in parts]
                    grade = sum(1 for answer in answers if answer[2])
                    for (part_id, _, question), (text, value_id, correct) in zip(parts, answers):
                        yield (
                            self.uuid_int(),
                            ws_id,
                            user_id,
                            course.id,
                            problem_key,
                            part_id,
                            text,
                            value_id,
                            correct,
                            float(grade),
                            float(len(parts)),
                            "",
                            attempt,
                            submitted,
                            question,
                            problem_name,
                            source,
                            submitted + 1 + rng.getrandbits(3),
                        )
                    if grade == len(parts) or rnd() < 0.35:
                        break  # solved, or gave up
                    submitted += 60 + int(rng.expovariate(1 / 1800))

    def _answer(self, entry, right):
        """(answer text, value id, correct) for one part; wrong answers favour the tempting option."""
        kind, _, options, correct_indexes = entry
        rng = self.rng
        if right:
            chosen = list(correct_indexes)
        else:
            wrong = [i for i in range(len(options)) if i not in correct_indexes]
            if kind == "checkbox":
                chosen = sorted(
                    set(correct_indexes) - {correct_indexes[rng.getrandbits(8) % len(correct_indexes)]}
                    | ({wrong[0]} if rng.random() < 0.5 else set())
                )
            else:
                chosen = [wrong[0] if rng.random() < 0.55 else wrong[rng.getrandbits(8) % len(wrong)]]
        if kind == "checkbox":
            return list_answer(options[i] for i in chosen), list_answer(f"choice_{i}" for i in chosen), right
        if kind == "numeric":
            return options[chosen[0]], "", right
        return options[chosen[0]], f"choice_{chosen[0]}", right

    def _subsection_open_rows(self, per_entry):
        rng, ws_id, courses = self.rng, self.workspace.pk, self.courses
        rnd = rng.random
        for (person, user_id, course_index, low, high, reached), count in zip(self.plan, per_entry):
            if not count:
                continue
            course = courses[course_index]
            subsections = [key for position, key in course.subsections if position < reached]
            source = self.pick(self.view_sources)
            for _ in range(count):
                opened = self.when(low, high)
                key = subsections[int(len(subsections) * rnd() ** 1.5)]  # earlier ones more
                yield (self.uuid_int(), ws_id, user_id, course.id, key, opened, source, opened + 1 + rng.getrandbits(3))

    # --- programs ------------------------------------------------------------------------------------

    def make_programs(self):
        """Three programs, each of the first courses (at most PROGRAM_COURSES) of its subjects."""
        for n, (title, program_type, codes) in enumerate(PROGRAMS):
            members = [course.id for course in self.courses if SUBJECTS[course.index % len(SUBJECTS)][0] in codes]
            if not members:
                continue
            key = str(uuid.UUID(int=self.uuid_int()))
            program = Program.objects.create(
                workspace=self.workspace,
                key=key,
                title=title,
                program_type=program_type,
                created_at=datetime.fromtimestamp(self.anchor - 400 * DAY + n * DAY, UTC),
            )
            program.courses.set(members[:PROGRAM_COURSES])
            self.counts[Program._meta.label] = self.counts.get(Program._meta.label, 0) + 1


@contextmanager
def _problem_text_index():
    """A temporary index for `rebuild_problem_rollups`: it reads each answer row's question and
    problem name with a subquery by (workspace, problem, part) ordered by time, which without an
    index scans the workspace's responses once per answer row (6 s for 12,000 responses on
    PostgreSQL; hours for the large size's 3 million). Dropped again in the same transaction."""
    quote = connection.ops.quote_name
    table = quote(ProblemResponse._meta.db_table)
    columns = ", ".join(
        quote(ProblemResponse._meta.get_field(name).column)
        for name in ("workspace", "problem_key", "part_id", "submitted_at")
    )
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX demo_problem_text_tmp ON {table} ({columns})")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX demo_problem_text_tmp")


def workspace_has_courses(slug):
    return Course.objects.filter(workspace__slug=slug).exists()


def delete_demo_workspace(slug):
    """Delete a workspace's rows, then its users (those of @<slug>.example without other workspaces).

    Behaviour tables go first with one DELETE each, so the ORM never walks millions of rows.
    """
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        return
    with transaction.atomic():
        # Activity rows and their learner-day rollups: raw DELETEs (their models send per-row signals).
        # Problem rows too: their post_delete signal would rebuild the rollups row by row.
        for model in (
            LearnerActivity,
            LearnerDay,
            VideoViewerDay,
            VideoDay,
            ReactionDay,
            VideoReaction,
            VideoView,
            LearningEvent,
            PageSession,
            ProblemResponse,
            SubsectionOpen,
            *PROBLEM_ROLLUPS,
        ):
            rows = model.objects.filter(workspace=workspace)
            rows._raw_delete(rows.db)
        for model in (Attempt, Enrollment):  # raw: the Result signals would make the ORM fetch every row
            model.objects.filter(workspace=workspace)._raw_delete(connection.alias)
        for model in (VideoView, LearningEvent, PageSession, Result, Video):
            model.objects.filter(workspace=workspace).delete()
        Program.objects.filter(workspace=workspace).delete()
        Chapter.objects.filter(course__workspace=workspace).delete()
        Course.objects.filter(workspace=workspace).delete()
        CustomFieldValue.objects.filter(field__workspace=workspace).delete()
        workspace.delete()
        User.objects.filter(email__endswith=f"@{slug}.example", memberships__isnull=True).delete()


@changes_course_info(workspace_courses)
def generate_demo_data(
    slug=DEMO_WORKSPACE,
    size="tiny",
    *,
    seed=1,
    now=None,
    progress=False,
    log=None,
    writer=None,
    bulk_load_min_rows=200_000,
    in_database=None,
):
    """Create workspace `slug` (if needed) and fill it with `size` demo data; returns rows per model.

    Runs in one transaction: on any error nothing stays behind. On PostgreSQL, big tables that
    are empty get their indexes built once at the end (see bulk_write.CopyWriter.bulk_load_mode),
    and page sessions and events are made by the database (demo_data_sql) unless in_database=False.
    """
    demo_size = SIZES[size] if isinstance(size, str) else size
    log = log or (lambda message: None)
    writer = writer or BulkWriter.for_connection(progress=progress)
    # The history's months get partitions first (PostgreSQL), rather than filling DEFAULT.
    ensure_month_partitions(since=(now or datetime.now(UTC)) - timedelta(days=HISTORY_DAYS + 1), now=now)
    with transaction.atomic():
        workspace, _ = Workspace.objects.get_or_create(
            slug=slug, defaults={"name": "Demo Academy" if slug == DEMO_WORKSPACE else slug.replace("-", " ").title()}
        )
        taken = User.objects.filter(email__endswith=f"@{slug}.example").exists()
        if taken or Course.objects.filter(workspace=workspace).exists():
            raise WorkspaceNotEmpty(slug)
        generator = DemoDataGenerator(
            workspace, demo_size, seed=seed, now=now, writer=writer, log=log, in_database=in_database
        )
        expected = {
            PageSession: demo_size.page_sessions,
            LearningEvent: demo_size.events,
            VideoView: demo_size.video_views,
            VideoReaction: demo_size.video_views // 12,
            ProblemResponse: demo_size.problem_responses,
            SubsectionOpen: demo_size.subsection_opens,
            Attempt: demo_size.learners * demo_size.enrollments_per_learner,
            Enrollment: demo_size.learners * demo_size.enrollments_per_learner,
            CustomFieldValue: demo_size.learners * 2,
            LearnerGroup.members.through: demo_size.learners,
        }
        with writer.bulk_load_mode(list(expected), min_rows=bulk_load_min_rows, expected_rows=expected) as lifted:
            if lifted:
                log(f"Indexes of {', '.join(lifted)} will be built once, after the load.")
            counts = generator.run()
            started = time.monotonic()
        if lifted:
            log(f"  indexes and keys: {time.monotonic() - started:.1f} s")
        rebuild_results(workspace)  # the Analyse result table, in one INSERT ... SELECT
        started = time.monotonic()
        with _problem_text_index():
            rebuild_problem_rollups(workspace.pk)  # last answers and grades, their counts, subsection learners
        log(f"  problem rollups: {time.monotonic() - started:.1f} s")
        if connection.vendor == "postgresql":
            # Fresh statistics: right after a bulk load the planner would guess row counts badly.
            with connection.cursor() as cursor:
                for model in expected:
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        started = time.monotonic()
        learner_days, _ = rebuild_learner_activity(workspace)
        log(f"  learner-day rollup ({learner_days:,} rows): {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        _, video_days = rebuild_video_days(workspace.pk)
        log(f"  video-day rollup ({video_days:,} rows): {time.monotonic() - started:.1f} s")
        rebuild_reaction_days(workspace.pk)
        counts[Workspace._meta.label] = 1
        return workspace, counts


class WorkspaceNotEmpty(Exception):
    def __init__(self, slug):
        super().__init__(
            f"Workspace {slug!r} already has courses or users @{slug}.example: "
            "use --if-empty to skip it or --replace to generate it again."
        )
        self.slug = slug
