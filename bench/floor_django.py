"""Settings for floor_app's Django view (bench_floor.py): Patron's own settings and middleware with
one URLconf swapped for floor_urls. Not part of the product."""

from patron.settings import *  # noqa: F403

ROOT_URLCONF = "floor_urls"
