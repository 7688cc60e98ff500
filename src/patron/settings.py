"""Settings from environment variables with safe defaults.

PATRON_DEBUG        "1" for development (default "0")
PATRON_SECRET_KEY   required unless debug
DATABASE_URL        postgres://user@host:port/db; default SQLite in var/patron.sqlite3
PATRON_VAR_DIR      where SQLite, uploads and exports live (default ./var)
PATRON_ALLOWED_HOSTS comma separated
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


def _env_flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("PATRON_VAR_DIR", PROJECT_DIR / "var"))

DEBUG = _env_flag("PATRON_DEBUG")
SECRET_KEY = os.environ.get("PATRON_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("PATRON_SECRET_KEY must be set when PATRON_DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode"

ALLOWED_HOSTS = [h for h in os.environ.get("PATRON_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "patron.core",
    "patron.integrations",
    "patron.members",
    "patron.ledger",
    "patron.tiers",
    "patron.earning",
    "patron.rewards",
    "patron.analytics",
    "patron.console",
    "patron.api",
    "patron.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "patron.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "patron.urls"
WSGI_APPLICATION = "patron.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:dashboard"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "patron.console.context.console",
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "")
    if url:
        database: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
        if database["ENGINE"] == "django.db.backends.postgresql":
            # Parameters bound on the server, and a statement run five times on a connection is
            # prepared: PostgreSQL then skips parsing and planning it again (ADR 0008).
            options: dict[str, Any] = database.setdefault("OPTIONS", {})
            options.update(server_side_binding=True, prepare_threshold=5)
        return database
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(VAR_DIR / "patron.sqlite3"),
        "OPTIONS": {
            # WAL lets readers go on while one writer commits; FULL keeps every commit on disk. A
            # 64 MiB page cache and memory-mapped reads (SQLite's defaults are 2 MiB and none) keep
            # the hot index pages of a million-member file in the process.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": os.environ.get("PATRON_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Login protection: after this many failures for one username (or one address) within the
# window, further attempts are refused until the window has passed.
LOGIN_MAX_FAILURES = int(os.environ.get("PATRON_LOGIN_MAX_FAILURES", "5"))
LOGIN_LOCKOUT_MINUTES = int(os.environ.get("PATRON_LOGIN_LOCKOUT_MINUTES", "15"))

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-less meta tag; kept default
SESSION_COOKIE_SECURE = _env_flag("PATRON_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Program settings that operators may override per deployment.
PATRON: dict[str, Any] = {
    "DEFAULT_REGION": os.environ.get("PATRON_DEFAULT_REGION", "CN"),
    "DEFAULT_CURRENCY": os.environ.get("PATRON_DEFAULT_CURRENCY", "CNY"),
    "MEMBER_TIME_ZONE": "Asia/Shanghai",
    # open | first_purchase | fee | application
    "ENTRY_THRESHOLD": os.environ.get("PATRON_ENTRY_THRESHOLD", "open"),
    "ENTRY_MIN_PURCHASE": os.environ.get("PATRON_ENTRY_MIN_PURCHASE", "100.00"),
    "ENTRY_FEE": os.environ.get("PATRON_ENTRY_FEE", "99.00"),
    "MERGE_UNDO_DAYS": 30,
    "QR_TOKEN_SECONDS": 120,
    "IMPORT_BATCH_SIZE": 1000,
    # Processes a tier simulation replays members in (each reads its own share of the rows).
    "SIMULATION_WORKERS": int(os.environ.get("PATRON_SIMULATION_WORKERS", str(min(4, os.cpu_count() or 1)))),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "patron.core.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PATRON_LOG_LEVEL", "WARNING")},
}
