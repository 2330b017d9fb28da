import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.replicas import warn_unreachable_replicas  # noqa: E402 (needs the settings loaded)

warn_unreachable_replicas()
