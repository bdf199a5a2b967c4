"""stapler for Django projects: the ``stapler`` binary this package installs, a Django app whose
``manage.py stapler`` command runs it inside the project's settings, and ``python -m
stapler_assets``, which runs it with this interpreter.

Add ``"stapler_assets"`` to ``INSTALLED_APPS`` for the management command. The binary does the
build; this package finds it and hands it the project's interpreter, settings and path. On the
servers, the same app's ``{% load compress %}`` (and ``stapler_assets.jinja2.CompressExtension``)
renders blocks from stapler's manifest in place of django-compressor's tag.
"""

import os
import shutil
import subprocess
import sys
import sysconfig

__all__ = ["binary", "environment", "run"]

_EXE = "stapler.exe" if os.name == "nt" else "stapler"


def binary():
    """The path of the ``stapler`` binary installed with this package.

    The wheel puts it in the scripts folder of the environment it is installed in (the
    virtualenv's ``bin``, or the user scheme's with ``pip install --user``); the ``PATH`` is the
    last resort. Raises ``FileNotFoundError`` naming every place looked in.
    """
    places = []
    for scripts in (sysconfig.get_path("scripts"), _user_scripts()):
        if scripts and scripts not in places:
            places.append(scripts)
    for scripts in places:
        candidate = os.path.join(scripts, _EXE)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(_EXE)
    if found:
        return found
    raise FileNotFoundError(
        "the stapler binary is not in %s nor on the PATH; reinstall the package "
        "(pip install --force-reinstall stapler-assets)" % " or ".join(places)
    )


def _user_scripts():
    try:
        scheme = sysconfig.get_preferred_scheme("user")
    except AttributeError:  # Python < 3.10
        scheme = "posix_user" if os.name == "posix" else "nt_user"
    try:
        return sysconfig.get_path("scripts", scheme)
    except KeyError:
        return None


def environment(settings_module=None):
    """The environment the binary runs in: this process's, plus this interpreter (so the Django
    bridge imports the same packages), this process's import path and, when given, the settings
    module. Variables already set by the user win."""
    env = dict(os.environ)
    env.setdefault("STAPLER_PYTHON", sys.executable)
    if settings_module:
        env.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    path = [entry for entry in sys.path if entry and os.path.isdir(entry)]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    if path:
        env["PYTHONPATH"] = os.pathsep.join(path)
    return env


def run(args, settings_module=None):
    """Runs ``stapler`` with ``args`` and returns its exit code (0 success; ``stapler --help``
    lists the others)."""
    return subprocess.call([binary(), *args], env=environment(settings_module))
