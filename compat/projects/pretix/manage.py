#!/usr/bin/env python
"""manage.py for pretix as installed from PyPI (pretix ships `python -m pretix` instead)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pretix.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
