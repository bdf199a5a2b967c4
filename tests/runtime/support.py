"""What the runtime tests share: failing with a message, running commands, the fixture
project and its stapler_assets variant."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE_SOURCE = os.path.join(REPO, "python")
FIXTURE = os.path.join(REPO, "tests", "fixtures", "django_project")
HERE = os.path.dirname(os.path.abspath(__file__))


class Failure(Exception):
    pass


def fail(message):
    raise Failure(message)


def check(condition, message):
    if not condition:
        fail(message)


def main(test):
    """Runs ``test()``; prints its one-line summary, or the failure and exits 1."""
    try:
        summary = test()
    except Failure as failure:
        print("FAIL %s: %s" % (os.path.basename(sys.argv[0]), failure), file=sys.stderr)
        sys.exit(1)
    print(summary)


def package_env(extra=None, python_path=()):
    """This environment with stapler_assets importable from the source tree (after whatever
    is installed, so an installed wheel is tested when there is one)."""
    env = dict(os.environ)
    for name in ("DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "CI"):
        env.pop(name, None)
    path = list(python_path) + [PACKAGE_SOURCE]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.update(extra or {})
    return env


def use_package_source():
    """Makes stapler_assets importable in this process, from the source tree if not installed."""
    try:
        import stapler_assets  # noqa: F401
    except ImportError:
        sys.path.insert(0, PACKAGE_SOURCE)


def run(command, cwd=None, env=None, input=None, what=None):
    done = subprocess.run(
        command, cwd=cwd, env=env, input=input, capture_output=True, text=True
    )
    if done.returncode != 0:
        fail(
            "%s exited with %d\n$ %s\n--- stdout\n%s\n--- stderr\n%s"
            % (what or command[0], done.returncode, " ".join(command), done.stdout, done.stderr)
        )
    return done


def stapler_binary(args):
    binary = args.stapler or os.environ.get("STAPLER_BIN")
    check(binary and os.path.isfile(binary), "give the stapler binary: --stapler PATH or STAPLER_BIN")
    return os.path.abspath(binary)


def python_without_compressor():
    try:
        import compressor  # noqa: F401
    except ImportError:
        return
    fail(
        "%s can import django-compressor (%s): run this test with a Python without it"
        % (sys.executable, compressor.__file__)
    )


def copy_fixture(to):
    shutil.copytree(FIXTURE, to, ignore=shutil.ignore_patterns("static_root", "__pycache__"))
    return to


STAPLER_SETTINGS = '''"""The fixture's settings as a server without django-compressor has them."""

from mysite.settings import *  # noqa: F401,F403
from mysite.settings import INSTALLED_APPS, STATICFILES_FINDERS, TEMPLATES

INSTALLED_APPS = ["stapler_assets" if app == "compressor" else app for app in INSTALLED_APPS]
# A precompiler class built on django-compressor's filters needs django-compressor: without it
# the project runs the same work as a command.
COMPRESS_PRECOMPILERS = [("text/x-shout", "tr a-z A-Z")]
STATICFILES_FINDERS = [f for f in STATICFILES_FINDERS if not f.startswith("compressor.")]
TEMPLATES[1]["OPTIONS"]["environment"] = "mysite.jinja2env_stapler.environment"
TEMPLATES[1]["OPTIONS"]["extensions"] = [
    "stapler_assets.jinja2.CompressExtension" if ext.startswith("compressor.") else ext
    for ext in TEMPLATES[1]["OPTIONS"]["extensions"]
]
'''

STAPLER_JINJA2ENV = '''"""The fixture's Jinja2 environment without django-compressor's url_for."""

from django.templatetags.static import static
from jinja2 import Environment


def shout(value):
    return str(value).upper() + "!"


def url_for(mod, filename):
    return static(filename) if mod == "static" else ""


def environment(**options):
    env = Environment(**options)
    env.globals.update({"static": static, "url_for": url_for, "site_name": "Fixture shop"})
    env.filters["shout"] = shout
    return env
'''


def add_stapler_settings(project):
    """Writes ``mysite.settings_stapler``: the fixture with stapler_assets for compressor."""
    with open(os.path.join(project, "mysite", "settings_stapler.py"), "w") as file:
        file.write(STAPLER_SETTINGS)
    with open(os.path.join(project, "mysite", "jinja2env_stapler.py"), "w") as file:
        file.write(STAPLER_JINJA2ENV)
    return "mysite.settings_stapler"


def manifest(root):
    with open(os.path.join(root, "CACHE", "manifest.json")) as file:
        return json.load(file)


def offline_key(body, static_url):
    return hashlib.sha256(body.replace(static_url, "").encode("utf-8")).hexdigest()


def render_pages(python, project, settings, engine, contexts, pages, env):
    done = run(
        [python, os.path.join(HERE, "render_pages.py"), project, settings, engine, contexts]
        + list(pages),
        cwd=project,
        env=env,
        what="render_pages.py with %s" % python,
    )
    return json.loads(done.stdout)["pages"]


def bridge(python, project, settings, requests, env):
    """The Django bridge's answers to ``requests``, run with ``python`` in ``project``."""
    env = dict(env, DJANGO_SETTINGS_MODULE=settings, STAPLER_DJANGO_PROJECT=project)
    done = run(
        [python, os.path.join(REPO, "src", "django", "bridge.py")],
        cwd=project,
        env=env,
        input="".join(json.dumps(request) + "\n" for request in requests),
        what="bridge.py with %s" % python,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    check(answers and "ready" in answers[0], "the bridge did not start: %s\n%s" % (answers, done.stderr))
    return answers[0]["ready"], answers[1:]
