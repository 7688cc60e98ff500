"""Settings for the test suite: the product's settings with test-only conveniences."""

import os

os.environ.setdefault("PATRON_DEBUG", "1")
os.environ.setdefault("PATRON_TASKS_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")

from patron.settings import *  # noqa: F403

# Hashing passwords at full strength costs ~0.3 s per login; tests log in thousands of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Tests assert on English messages; the product's default (zh-hans) is covered by tests that ask
# for Chinese explicitly (tests/console/test_i18n.py).
LANGUAGE_CODE = "en"
