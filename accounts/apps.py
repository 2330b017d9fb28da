from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from . import schema  # noqa: F401  (registers the OpenAPI auth extensions)
        from .credential_cache import credentials_changed
        from .models import ApiKey, Membership, User, Workspace

        # Cached credentials are stale after any save or delete of what they are resolved from.
        for model in (ApiKey, Membership, Workspace):
            post_save.connect(credentials_changed, sender=model, dispatch_uid=f"credentials-{model.__name__}-save")
            post_delete.connect(credentials_changed, sender=model, dispatch_uid=f"credentials-{model.__name__}-delete")
        post_save.connect(_user_saved, sender=User, dispatch_uid="credentials-User-save")
        post_delete.connect(credentials_changed, sender=User, dispatch_uid="credentials-User-delete")


def _user_saved(sender, update_fields=None, **kwargs):
    """A login stamps last_login, which no credential reads; any other save of a user may."""
    from .credential_cache import credentials_changed

    if update_fields is None or set(update_fields) - {"last_login"}:
        credentials_changed()
