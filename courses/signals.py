"""Keep courses.Result current when attempts and enrollments are saved or deleted one by one
through the ORM (admin, shell, test factories). Bulk paths call courses.results themselves."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Attempt, Enrollment
from .results import refresh_results


@receiver(post_save, sender=Attempt)
@receiver(post_save, sender=Enrollment)
def refresh_saved_result(sender, instance, raw=False, **kwargs):
    if not raw:  # loaddata: fixtures carry no derived rows; `manage.py rebuild_results` after
        refresh_results([(instance.user_id, instance.course_id)])


@receiver(post_delete, sender=Attempt)
@receiver(post_delete, sender=Enrollment)
def refresh_deleted_result(sender, instance, origin=None, **kwargs):
    # Deleting a user, course or workspace cascades to its results through their foreign keys;
    # recomputing a pair whose learner or course is being deleted would write it back.
    if isinstance(origin, (Attempt, Enrollment)) or getattr(origin, "model", None) in (Attempt, Enrollment):
        refresh_results([(instance.user_id, instance.course_id)])
