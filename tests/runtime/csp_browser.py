"""CSP nonces in compress blocks, in a real browser: a Django 6 site whose
ContentSecurityPolicyMiddleware enforces `script-src 'self' 'nonce-…'` (and style-src alike),
with nonces inside compress blocks (`{% if csp_nonce %}`, `nonce="{{ csp_nonce }}"`, Django
6.1's `{% csp_nonce_attr %}`) and SRI on, served by Django's runserver with stapler_assets and
without django-compressor. Headless Chromium runs every script and applies every style of the
blocks, with no CSP violation but the control's (a script outside them without a nonce, which
shows the policy is enforced); two requests get two nonces. The same site served by django-compressor's tag
from the same manifest loses its inline blocks to the policy (pinned, so a change shows).

    python tests/runtime/csp_browser.py --stapler target/debug/stapler \\
        --peer-python /path/to/django6-with-compressor/bin/python

Run it with a Python that has Django 6 and not django-compressor; --peer-python has Django 6
and django-compressor 4.x, builds the manifest through stapler's bridge and serves the
reference site. Needs Chromium (`apt-get install chromium`).
"""

import argparse
import html.parser
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from support import (
    bridge,
    check,
    fail,
    main,
    manifest,
    offline_key,
    package_env,
    python_without_compressor,
    run,
    stapler_binary,
)

SETTINGS = '''import os
from pathlib import Path

from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "csp-site"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "cspsite.urls"
# "stapler_assets" on the servers under test, "compressor" for the build and the reference.
INSTALLED_APPS = ["django.contrib.staticfiles", os.environ.get("CSP_SITE_RUNTIME", "stapler_assets")]
MIDDLEWARE = ["django.middleware.csp.ContentSecurityPolicyMiddleware"]
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
            ]
        },
    }
]
DATABASES = {}
STATIC_URL = "/static/"
STATIC_ROOT = str(BASE_DIR / "root")
COMPRESS_ENABLED = True
COMPRESS_OFFLINE = True
COMPRESS_SRI_HASHES = ["sha384"]
COMPRESS_SRI_CROSSORIGIN = "anonymous"
'''

URLS = '''from django.conf import settings
from django.shortcuts import render
from django.urls import path, re_path
from django.views.static import serve


def page(request):
    return render(request, "page.html")


urlpatterns = [
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT}),
    path("page/", page),
]
'''

MANAGE = '''import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cspsite.settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
'''

PAGE = """{% load static compress %}<!DOCTYPE html>
<html>
<head>
<script nonce="{{ csp_nonce }}">window.ran = []; window.violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});</script>
{% compress css inline %}<style nonce="{{ csp_nonce }}">#probe { color: rgb(1, 2, 3) }</style>{% endcompress %}
{% compress css %}<link rel="stylesheet" href="{% static 'css/site.css' %}">{% endcompress %}
</head>
<body>
<p id="probe">probe</p>
<pre id="result"></pre>
<script>ran.push("control");</script>
{% compress js inline %}
<script{% if csp_nonce %} nonce="{{ csp_nonce }}"{% endif %}>ran.push("if-nonce");</script>
{% endcompress %}
{% compress js inline %}<script {% csp_nonce_attr %}>ran.push("nonce-attr");</script>{% endcompress %}
{% compress js %}<script src="{% static 'js/app.js' %}" nonce="{{ csp_nonce }}"></script>{% endcompress %}
<script nonce="{{ csp_nonce }}">addEventListener("load", function () {
  var probe = getComputedStyle(document.getElementById("probe"));
  document.getElementById("result").textContent = JSON.stringify({
    ran: ran.slice().sort(), violations: violations, color: probe.color,
    background: getComputedStyle(document.body).backgroundColor
  });
});</script>
</body>
</html>
"""

FILES = {
    "manage.py": MANAGE,
    "cspsite/__init__.py": "",
    "cspsite/settings.py": SETTINGS,
    "cspsite/urls.py": URLS,
    "templates/page.html": PAGE,
    "root/js/app.js": 'ran.push("file");\n',
    "root/css/site.css": "body { background-color: rgb(4, 5, 6) }\n",
}
EVERYTHING = {
    "ran": ["file", "if-nonce", "nonce-attr"],
    # The control, a script outside the blocks with no nonce: the policy is enforced.
    "violations": ["script-src-elem inline"],
    "color": "rgb(1, 2, 3)",
    "background": "rgb(4, 5, 6)",
}


PEER_PAGE = """
import json, os, django
os.environ["DJANGO_SETTINGS_MODULE"] = "cspsite.settings"
django.setup()
from django.test import Client
try:
    Client(raise_request_exception=True).get("/page/")
    print(json.dumps({"error": None}))
except Exception as error:
    print(json.dumps({"error": type(error).__name__,
                      "missing_key": "is missing from offline manifest" in str(error)}))
"""


def make_site(folder):
    for name, text in FILES.items():
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as file:
            file.write(text)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``manage.py runserver`` with ``python``, stopped on exit."""

    def __init__(self, python, site, runtime, log):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(log, "w")
        self.process = subprocess.Popen(
            [python, "manage.py", "runserver", "--noreload", "127.0.0.1:%d" % self.port],
            cwd=site,
            env=package_env({"CSP_SITE_RUNTIME": runtime}),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                fail("runserver (%s) exited:\n%s" % (runtime, open(log).read()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        fail("runserver (%s) did not listen within 30 s" % runtime)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "link"):
            self.tags.append((tag, dict(attrs)))


def fetch(url):
    with urllib.request.urlopen(url, timeout=20) as response:
        return response.headers.get("Content-Security-Policy", ""), response.read().decode()


def check_nonces(server):
    """Two requests: two nonces, each in its header and on every tag of its page."""
    nonces = []
    for _ in range(2):
        header, page = fetch(server.url + "/page/")
        found = re.findall(r"'nonce-([^']+)'", header)
        check(len(set(found)) == 1, "the CSP header has no single nonce: %r" % header)
        nonce = found[0]
        parser = Tags()
        parser.feed(page)
        # Every script and style of the blocks gets it; the stylesheet link's block names no
        # nonce, so it renders exactly as django-compressor's tag renders it ('self' allows it).
        for tag, attrs in parser.tags:
            expected = None if tag == "link" or attrs == {} else nonce
            check(
                attrs.get("nonce") == expected,
                "a <%s> whose nonce is not %s: %r\n%s" % (tag, expected, attrs, page),
            )
        check(page.count(" nonce=") == len(parser.tags) - 2, "a tag with two nonces:\n%s" % page)
        check(page.count("integrity=\"sha384-") == 2, "SRI on the two bundles:\n%s" % page)
        nonces.append(nonce)
    check(nonces[0] != nonces[1], "two requests got the same nonce %s" % nonces[0])
    return page


def chromium_binary(given):
    for name in [given, "chromium", "chromium-browser"]:
        if name and shutil.which(name):
            return shutil.which(name)
    fail("Chromium is needed: apt-get install -y chromium (or --chromium PATH)")


def browse(chromium, server, tmp):
    url = server.url + "/page/"
    profile = tempfile.mkdtemp(dir=tmp)
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--user-data-dir=%s" % profile,
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    check(done.returncode == 0, "chromium failed on %s:\n%s" % (url, done.stderr[-3000:]))
    found = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    if not (found and found.group(1)):
        server.log.flush()
        with open(server.log.name) as log:
            fail("the page's probe did not run:\n%s\n--- server log\n%s" % (done.stdout, log.read()[-4000:]))
    import html as html_module

    result = json.loads(html_module.unescape(found.group(1)))
    console = [line for line in done.stderr.splitlines() if "Content Security Policy" in line]
    return result, console


def bridge_keys(site, root):
    ready, answers = bridge(
        sys.executable,
        site,
        "cspsite.settings",
        [{"op": "render", "templates": ["page.html"], "contexts": None, "engine": "django"}],
        package_env({"CSP_SITE_RUNTIME": "stapler_assets"}),
    )
    check("ok" in answers[0], "render op: %s" % answers[0])
    template = answers[0]["ok"]["templates"][0]
    check(not template["skipped"] and not template.get("error"), "bridge: %s" % template)
    return {offline_key(block["body"], "/static/") for block in template["blocks"]}


def test():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stapler")
    parser.add_argument("--peer-python", required=True)
    parser.add_argument("--chromium")
    args = parser.parse_args()
    python_without_compressor()
    import django

    check(django.VERSION >= (6, 1), "this test needs Django 6.1 or later, not %s" % django.get_version())
    stapler = stapler_binary(args)
    peer = os.path.abspath(args.peer_python)
    chromium = chromium_binary(args.chromium)
    with tempfile.TemporaryDirectory() as tmp:
        site = os.path.join(tmp, "site")
        make_site(site)
        run(
            [stapler, "compress", "--offline", "--python", peer],
            cwd=site,
            env=package_env({"CSP_SITE_RUNTIME": "compressor"}),
            what="stapler",
        )
        built = manifest(os.path.join(site, "root"))
        check(len(built) == 5, "the site's 5 blocks: %s" % built)
        check(all("nonce=" not in value for value in built.values()), "a nonce in the manifest: %s" % built)
        ours = bridge_keys(site, os.path.join(site, "root"))
        check(ours == set(built), "the bridge without django-compressor keys %s, the build %s" % (sorted(ours), sorted(built)))

        with Server(sys.executable, site, "stapler_assets", os.path.join(tmp, "stapler.log")) as server:
            check_nonces(server)
            result, console = browse(chromium, server, tmp)
        check(result == EVERYTHING, "with stapler_assets the page did not run whole: %s" % result)
        check(len(console) == 1, "CSP messages in the console, besides the control's: %s" % console)

        # django-compressor's tag keys the body with this request's nonce in it: no build has
        # that key, so the page fails.
        theirs = json.loads(
            run([peer, "-c", PEER_PAGE], cwd=site, env=package_env({"CSP_SITE_RUNTIME": "compressor"}),
                what="the page under django-compressor").stdout
        )
        check(
            theirs == {"error": "OfflineGenerationError", "missing_key": True},
            "django-compressor's runtime was expected to fail on the nonce: %s" % theirs,
        )
    return (
        "csp_browser: Chromium runs all 3 scripts and both styles of the blocks with no CSP "
        "violation but the control's "
        "(Django %s, SRI on, two requests, two nonces); django-compressor's tag fails the page "
        "with OfflineGenerationError" % django.get_version()
    )


if __name__ == "__main__":
    main(test)
