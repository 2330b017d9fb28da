"""factory-boy factories for every model. Each builds a valid row with the least said."""

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import (
    CustomField,
    CustomFieldValue,
    LearnerGroup,
    Membership,
    Role,
    User,
    Workspace,
)
from analytics.models import LearningEvent, PageSession, VideoReaction, VideoView
from courses.models import Attempt, Chapter, Course, Enrollment, Video

DEFAULT_PASSWORD = "correct-horse-battery"


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"workspace-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["email"]
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    workspace = factory.SubFactory(WorkspaceFactory)
    role = Role.LEARNER


class LearnerGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearnerGroup

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Group {n}")


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Field {n}")


class CustomFieldValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomFieldValue

    field = factory.SubFactory(CustomFieldFactory)
    user = factory.SubFactory(UserFactory)
    value = "Sales"


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    workspace = factory.SubFactory(WorkspaceFactory)
    key = factory.Sequence(lambda n: f"course-v1:Org+C{n}+2026")
    title = factory.Sequence(lambda n: f"Course {n}")
    thumbnail = factory.LazyAttribute(lambda o: f"https://img.example.com/{o.key}.jpg")


class ChapterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chapter

    course = factory.SubFactory(CourseFactory)
    key = factory.Sequence(lambda n: f"chapter{n}")
    title = factory.Sequence(lambda n: f"Chapter {n}")
    position = factory.Sequence(lambda n: n)


class VideoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Video

    course = factory.SubFactory(CourseFactory)
    workspace = factory.SelfAttribute("course.workspace")
    key = factory.Sequence(lambda n: f"video-{n}")
    title = factory.Sequence(lambda n: f"Video {n}")
    duration_s = 300
    segment_length_s = 5


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    course = factory.SubFactory(CourseFactory)
    workspace = factory.SelfAttribute("course.workspace")
    user = factory.SubFactory(UserFactory)
    enrolled_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))


class AttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attempt

    course = factory.SubFactory(CourseFactory)
    workspace = factory.SelfAttribute("course.workspace")
    user = factory.SubFactory(UserFactory)
    progress = 50
    first_activity_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=5))
    last_activity_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))


class PageSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PageSession

    id = factory.LazyFunction(uuid.uuid4)
    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    page = "Profile"
    path = "/profile"
    started_at = factory.LazyFunction(timezone.now)
    duration_s = 60


class LearningEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningEvent

    id = factory.LazyFunction(uuid.uuid4)
    course = factory.SubFactory(CourseFactory)
    workspace = factory.SelfAttribute("course.workspace")
    user = factory.SubFactory(UserFactory)
    type = "viewed"
    occurred_at = factory.LazyFunction(timezone.now)


class VideoViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VideoView

    id = factory.LazyFunction(uuid.uuid4)
    video = factory.SubFactory(VideoFactory)
    course = factory.SelfAttribute("video.course")
    workspace = factory.SelfAttribute("video.workspace")
    user = factory.SubFactory(UserFactory)
    started_at = factory.LazyFunction(timezone.now)
    watched_s = 60


class VideoReactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VideoReaction

    video = factory.SubFactory(VideoFactory)
    workspace = factory.SelfAttribute("video.workspace")
    user = factory.SubFactory(UserFactory)
    type = "like"
    at = factory.LazyFunction(timezone.now)
