"""``python manage.py stapler compress|publish|deploy|check|lookup|config ...``: the stapler
binary, run inside this project's settings, interpreter and import path. Every argument after
``stapler`` goes to the binary as it is (``python manage.py stapler compress --help``)."""

import argparse
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stapler_assets import run


class Command(BaseCommand):
    help = (
        "Build the {% compress %} blocks offline and publish the static root with stapler: "
        "compress, publish, deploy, check, lookup, config (stapler's own --help for each)."
    )
    # The binary reads the settings through its own bridge; this process needs no checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("stapler_args", nargs=argparse.REMAINDER, metavar="COMMAND ...")

    def run_from_argv(self, argv):
        # Every argument after the command's name is stapler's, `--settings` and `-v` included
        # (manage.py has already applied `--settings` and `--pythonpath`); argparse would take
        # the ones Django's commands share.
        try:
            code = self._run(argv[2:])
        except CommandError as error:
            self.stderr.write("error: %s" % error)
            code = error.returncode
        sys.stdout.flush()
        sys.exit(code)

    def handle(self, *args, **options):
        # call_command("stapler", "compress", "--offline")
        code = self._run(list(args) + list(options.get("stapler_args") or []))
        if code != 0:
            raise CommandError("stapler exited with %d" % code, returncode=code)

    def _run(self, args):
        if not args:
            args = ["--help"]
        try:
            return run(args, settings_module=getattr(settings, "SETTINGS_MODULE", None))
        except FileNotFoundError as error:
            raise CommandError(str(error), returncode=2)
