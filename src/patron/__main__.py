"""`patron <command>`: Django's management commands with Patron's settings."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    from django.core.management import execute_from_command_line

    # `patron demo-data` runs the demo_data command: hyphens read better on a command line.
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = sys.argv[1].replace("-", "_")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
