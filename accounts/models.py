import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .credential_cache import credentials_changed
from .ids import new_object_id


class CredentialSourceQuerySet(models.QuerySet):
    """Rows credentials are resolved from (accounts/credential_cache.py): bulk writes, which
    send no signal, mark the cached credentials stale themselves. `quiet_fields`: fields no
    credential reads, whose updates alone change nothing."""

    quiet_fields = frozenset()

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        if rows and not set(kwargs) <= self.quiet_fields:
            credentials_changed()
        return rows

    def bulk_update(self, objs, fields, batch_size=None):
        rows = super().bulk_update(objs, fields, batch_size=batch_size)
        if rows and not set(fields) <= self.quiet_fields:
            credentials_changed()
        return rows

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            credentials_changed()
        return created


class Role(models.TextChoices):
    LEARNER = "learner", "Learner"
    INSTRUCTOR = "instructor", "Instructor"
    ADMIN = "admin", "Admin"


class Gender(models.TextChoices):
    FEMALE = "f", "Female"
    MALE = "m", "Male"
    OTHER = "o", "Other"


class EducationLevel(models.TextChoices):
    """The education levels Open edX records for a learner."""

    DOCTORATE = "doctorate", "Doctorate"
    MASTERS = "masters", "Master's or professional degree"
    BACHELORS = "bachelors", "Bachelor's degree"
    ASSOCIATES = "associates", "Associate degree"
    SECONDARY = "secondary", "Secondary/high school"
    JUNIOR_SECONDARY = "junior_secondary", "Junior secondary/junior high/middle school"
    PRIMARY = "primary", "Elementary/primary school"
    NONE = "none", "No formal education"
    OTHER = "other", "Other education"


# The shortest raw-activity retention: the course information refresh recomputes the current and
# the previous week from the raw rows, which must still be there.
MIN_RETENTION_DAYS = 14


class Workspace(models.Model):
    """A tenant. Every row of learning data belongs to exactly one workspace."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    is_analyse_api_enabled = models.BooleanField(
        "Analyse API access",
        default=True,
        help_text="Off: the Analyse API (/analyse/*) answers 403 for every credential of the workspace",
    )
    raw_activity_retention_days = models.PositiveIntegerField(
        "Raw activity retention (days)",
        validators=[MinValueValidator(MIN_RETENTION_DAYS)],
        null=True,
        blank=True,
        help_text=(
            "Raw page sessions, learning events and video views older than this many days are "
            "deleted daily (their rollups stay); empty: keep forever"
        ),
    )
    raw_activity_pruned_before = models.DateTimeField(
        "Raw activity pruned before",
        null=True,
        blank=True,
        editable=False,
        help_text="Set by prune_activity: raw activity before this moment was deleted (its rollups hold it)",
    )
    pseudonymize_exports = models.BooleanField(
        "Pseudonymize exports by default",
        default=False,
        help_text="New exports replace learners' emails and names by a keyed hash unless asked otherwise",
    )

    objects = CredentialSourceQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name or self.slug


class UserQuerySet(CredentialSourceQuerySet):
    quiet_fields = frozenset({"last_login"})


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person, logging in by email. Belongs to workspaces through memberships."""

    username = None
    email = models.EmailField("email address", unique=True)
    public_id = models.CharField(max_length=24, unique=True, default=new_object_id, editable=False)
    avatar_url = models.URLField(max_length=500, blank=True)
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True)
    education_level = models.CharField(max_length=20, choices=EducationLevel.choices, blank=True)
    country = models.CharField("country (ISO 3166 alpha-2)", max_length=2, blank=True)
    source = models.CharField(max_length=50, blank=True, help_text="How the learner found us")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(birth_year__isnull=True) | Q(birth_year__gte=1900, birth_year__lte=2100),
                name="user_birth_year_plausible",
            ),
        ]

    def __str__(self):
        return self.email

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}".strip()


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.LEARNER)
    joined_at = models.DateTimeField(default=timezone.now)

    objects = CredentialSourceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user"),
        ]
        indexes = [models.Index(fields=["workspace", "role"])]

    def __str__(self):
        return f"{self.user} in {self.workspace} ({self.role})"


class LearnerGroup(models.Model):
    """A named group of users inside a workspace (a team, a cohort, a department)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="groups")
    public_id = models.CharField(max_length=24, unique=True, default=new_object_id, editable=False)
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(User, related_name="learner_groups", blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="group_unique_name"),
        ]

    def __str__(self):
        return self.name


class CustomField(models.Model):
    """A workspace-specific attribute of users (Department, Region, Job Title...)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="custom_fields")
    public_id = models.CharField(max_length=24, unique=True, default=new_object_id, editable=False)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="custom_field_unique_name"),
        ]

    def __str__(self):
        return self.name


class CustomFieldValue(models.Model):
    field = models.ForeignKey(CustomField, on_delete=models.CASCADE, related_name="values")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="custom_values")
    value = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["field", "user"], name="custom_value_unique_user"),
        ]
        indexes = [models.Index(fields=["field", "value"])]

    def __str__(self):
        return f"{self.field}: {self.value}"


def hash_api_key(raw_key):
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyQuerySet(CredentialSourceQuerySet):
    quiet_fields = frozenset({"last_used_at"})

    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A workspace credential for integrations. Only a hash of the secret is stored."""

    PREFIX_LENGTH = 12

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ADMIN)
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.workspace}, {self.role})"

    @classmethod
    def issue(cls, workspace, role=Role.ADMIN, name=""):
        """Create a key and return (api_key, raw_key). The raw key is never stored."""
        prefix = secrets.token_hex(cls.PREFIX_LENGTH // 2)
        raw_key = f"{prefix}.{secrets.token_urlsafe(32)}"
        api_key = cls.objects.create(
            workspace=workspace, role=role, name=name, prefix=prefix, key_hash=hash_api_key(raw_key)
        )
        return api_key, raw_key

    @property
    def is_active(self):
        return self.revoked_at is None
