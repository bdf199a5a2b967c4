"""stapler_assets's runtime tags on their own: keys as django-compressor's offline mode computes
them, nonces hidden from keys and put on every tag, COMPRESS_ENABLED and COMPRESS_OFFLINE, the
URL placeholder, a manifest read again when it changes, one read over HTTP, and the system
checks.

    python tests/runtime/tags.py

Run it with a Python that has Django and Jinja2 (4.2 to 6.x; with 6.1, {% csp_nonce_attr %}
is covered too) and not django-compressor; stapler_assets comes from python/ when it is not
installed.
"""

import hashlib
import http.server
import json
import os
import sys
import tempfile
import threading

from support import check, main, python_without_compressor, use_package_source

STATIC_URL = "/static/"
PLACEHOLDER = "/__compressor_url_placeholder__/"


def key(body):
    return hashlib.sha256(body.replace(STATIC_URL, "").encode()).hexdigest()


def write_manifest(root, entries):
    os.makedirs(os.path.join(root, "CACHE"), exist_ok=True)
    path = os.path.join(root, "CACHE", "manifest.json")
    with open(path + ".tmp", "w") as file:
        json.dump(entries, file)
    os.replace(path + ".tmp", path)


class Request:
    """A request as templates see it (django-csp's request.csp_nonce)."""

    def __init__(self, nonce=None):
        self.GET = {}
        if nonce is not None:
            self.csp_nonce = nonce
        self.path = "/page/"


def setup(root, templates):
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        INSTALLED_APPS=["django.contrib.staticfiles", "stapler_assets"],
        STATIC_URL=STATIC_URL,
        STATIC_ROOT=root,
        COMPRESS_OFFLINE=True,
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {
                    "loaders": [("django.template.loaders.locmem.Loader", templates)],
                },
            }
        ],
    )
    import django

    django.setup()


def render(name, context=None, request=None):
    from django.template.loader import get_template

    context = dict(context or {})
    if request is not None:
        context["request"] = request
    return get_template(name).render(context)


TEMPLATES = {
    "plain.html": "{% load compress %}{% compress css %}\n"
    '<link rel="stylesheet" href="{{ STATIC_URL }}css/a.css">\n{% endcompress %}',
    "if_nonce.html": "{% load compress %}{% compress js inline %}"
    '<script{% if csp_nonce %} nonce="{{ csp_nonce }}"{% endif %}>go()</script>{% endcompress %}',
    "nonce_var.html": "{% load compress %}{% compress js %}"
    '<script nonce="{{ csp_nonce }}" src="/static/js/a.js"></script>{% endcompress %}',
    "request_nonce.html": "{% load compress %}{% compress css inline %}"
    '<style nonce="{{ request.csp_nonce }}">p{}</style>{% endcompress %}',
    "extends.html": '{% extends "base.html" %}{% block body %}x{% endblock %}',
    "base.html": "{% load compress %}<html>\n{% block body %}{% endblock %}\n"
    "{% compress js %}<script>missing()</script>{% endcompress %}</html>",
}
if_nonce_body = "<script>go()</script>"
nonce_var_body = '<script nonce="" src="/static/js/a.js"></script>'
request_nonce_body = '<style nonce="">p{}</style>'
plain_body = '\n<link rel="stylesheet" href="/static/css/a.css">\n'

MANIFEST = {
    key(plain_body): '<link rel="stylesheet" href="%sCACHE/css/a.1.css" type="text/css">'
    % PLACEHOLDER,
    key(if_nonce_body): "<script>go();</script>",
    key(nonce_var_body): '<script src="%sCACHE/js/a.2.js" integrity="sha384-x" '
    'crossorigin="anonymous"></script>' % PLACEHOLDER,
    key(request_nonce_body): "<style>p{}</style>",
}


def test_keys_and_nonces():
    html = render("plain.html", {"STATIC_URL": STATIC_URL})
    check(html == '<link rel="stylesheet" href="/static/CACHE/css/a.1.css" type="text/css">', html)
    # No nonce anywhere: the manifest's HTML as it is.
    check(render("if_nonce.html") == "<script>go();</script>", render("if_nonce.html"))
    # A nonce in the context (Django's csp context processor) or on the request (django-csp).
    html = render("if_nonce.html", {"csp_nonce": "N1"})
    check(html == '<script nonce="N1">go();</script>', html)
    html = render("nonce_var.html", request=Request("N2"))
    check(
        html == '<script src="/static/CACHE/js/a.2.js" integrity="sha384-x" '
        'crossorigin="anonymous" nonce="N2"></script>',
        html,
    )
    html = render("request_nonce.html", request=Request("N3"))
    check(html == '<style nonce="N3">p{}</style>', html)
    # Two requests, two nonces; nothing kept from the first.
    check(render("if_nonce.html", {"csp_nonce": "A"}) != render("if_nonce.html", {"csp_nonce": "B"}), "nonces")
    return 6


def test_csp_nonce_attr():
    """Django 6.1's {% csp_nonce_attr %}, keyed as offline (no csp_nonce: it renders nothing)."""
    import django

    if django.VERSION < (6, 1):
        return 0
    from django.template import engines
    from django.test.utils import override_settings

    body = "<script >attr()</script>"
    entries = dict(MANIFEST)
    entries[key(body)] = "<script>attr();</script>"
    write_manifest(ROOT, entries)
    template = engines["django"].from_string(
        "{% load compress %}{% compress js inline %}<script {% csp_nonce_attr %}>attr()</script>"
        "{% endcompress %}"
    )
    from django.utils.csp import LazyNonce

    nonce = LazyNonce()
    request = Request()
    request._csp_nonce = nonce
    html = template.render({"csp_nonce": nonce, "request": request})
    check(html == '<script nonce="%s">attr();</script>' % nonce, html)
    check(bool(nonce), "the lazy nonce was not generated, so the header would lack it")
    with override_settings(COMPRESS_OFFLINE=False):
        html = template.render({"csp_nonce": nonce})
        check(html == '<script nonce="%s">attr()</script>' % nonce, "original content: %s" % html)
    write_manifest(ROOT, MANIFEST)
    return 1


def test_switches():
    from django.test.utils import override_settings

    with override_settings(COMPRESS_ENABLED=False):
        html = render("if_nonce.html", {"csp_nonce": "N"})
        check(html == '<script nonce="N">go()</script>', "disabled: %s" % html)
    with override_settings(COMPRESS_OFFLINE=False):
        html = render("plain.html", {"STATIC_URL": STATIC_URL})
        check(html == plain_body, "not offline: %r" % html)
    with override_settings(COMPRESS_URL="https://cdn.example/s/"):
        html = render("plain.html", {"STATIC_URL": STATIC_URL})
        check("https://cdn.example/s/CACHE/css/a.1.css" in html, html)
    with override_settings(COMPRESS_DEBUG_TOGGLE="nocompress"):
        request = Request()
        request.GET = {"nocompress": "1"}
        html = render("plain.html", {"STATIC_URL": STATIC_URL}, request=request)
        check(html == plain_body, "debug toggle: %r" % html)
    with override_settings(STAPLER_CSP_NONCE="always"):
        html = render("plain.html", {"STATIC_URL": STATIC_URL, "csp_nonce": "Z"})
        check(' nonce="Z">' in html, "always: %s" % html)
    return 5


def test_reload():
    body = "<script>later()</script>"
    template = "{% load compress %}{% compress js inline %}" + body + "{% endcompress %}"
    from django.template import engines

    compiled = engines["django"].from_string(template)
    from stapler_assets.blocks import MissingManifestKey

    try:
        compiled.render({})
        raise AssertionError("rendered without its key")
    except MissingManifestKey:
        pass
    entries = dict(MANIFEST)
    entries[key(body)] = "<script>later();</script>"
    write_manifest(ROOT, entries)
    check(compiled.render({}) == "<script>later();</script>", "the new manifest was not read")
    write_manifest(ROOT, MANIFEST)
    return 1


def test_jinja2():
    import jinja2

    templates = {
        "plain.html": "{% compress 'css' %}\n<link rel=\"stylesheet\" href=\"{{ STATIC_URL }}css/a.css\">\n{% endcompress %}",
        "nonce.html": "{% compress css, inline %}<style nonce=\"{{ request.csp_nonce }}\">p{}</style>{% endcompress %}",
        "if_nonce.html": "{% compress 'js', 'inline' %}<script{% if csp_nonce %} nonce=\"{{ csp_nonce }}\"{% endif %}>go()</script>{% endcompress js %}",
        "missing.html": "{% extends 'layout.html' %}{% block b %}{% compress 'js' %}<script>nope()</script>{% endcompress %}{% endblock %}",
        "layout.html": "<p>{% block b %}{% endblock %}</p>",
    }
    env = jinja2.Environment(
        loader=jinja2.DictLoader(templates),
        extensions=["stapler_assets.jinja2.CompressExtension"],
        autoescape=True,
    )
    html = env.get_template("plain.html").render(STATIC_URL=STATIC_URL)
    check(html == '<link rel="stylesheet" href="/static/CACHE/css/a.1.css" type="text/css">', html)
    html = env.get_template("nonce.html").render(request=Request("J1"))
    check(html == '<style nonce="J1">p{}</style>', html)
    html = env.get_template("if_nonce.html").render(csp_nonce="J2")
    check(html == '<script nonce="J2">go();</script>', html)
    check(env.get_template("if_nonce.html").render() == "<script>go();</script>", "no nonce")
    from django.test.utils import override_settings

    with override_settings(COMPRESS_ENABLED=False):
        html = env.get_template("if_nonce.html").render(csp_nonce="J3")
        check(html == '<script nonce="J3">go()</script>', "disabled: %s" % html)
    from stapler_assets.blocks import MissingManifestKey

    try:
        env.get_template("missing.html").render()
        raise AssertionError("rendered without its key")
    except MissingManifestKey as error:
        check(error.template == "missing.html" and error.line == 1, str(error))
    return 5


def test_add_nonce():
    from stapler_assets.nonce import add_nonce

    cases = [
        ('<script src="a.js"></script>', '<script src="a.js" nonce="N"></script>'),
        ('<link rel="preload" href="a" as="style" />', '<link rel="preload" href="a" as="style" nonce="N" />'),
        ('<script nonce="">x</script>', '<script nonce="N">x</script>'),
        ("<style nonce=''>p{}</style>", "<style nonce='N'>p{}</style>"),
        ("<script nonce>x</script>", '<script nonce="N">x</script>'),
        ('<script nonce="keep">x</script>', '<script nonce="keep">x</script>'),
        ('<script>var s = "<script>";</script><link href="a>b">',
         '<script nonce="N">var s = "<script>";</script><link href="a>b" nonce="N">'),
        ("<!-- <script> --><SCRIPT>x</SCRIPT>", '<!-- <script> --><SCRIPT nonce="N">x</SCRIPT>'),
        ("<p>text</p>", "<p>text</p>"),
        ("<scripts>", "<scripts>"),
    ]
    for html, expected in cases:
        got = add_nonce(html, "N")
        check(got == expected, "add_nonce(%r) = %r, not %r" % (html, got, expected))
    check(add_nonce("<script></script>", '"><x') == '<script nonce="&quot;&gt;&lt;x"></script>', "escaped")
    return len(cases) + 1


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_remote_manifest():
    import functools

    from django.core.checks import run_checks
    from django.test.utils import override_settings

    from stapler_assets import manifest

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=ROOT)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://127.0.0.1:%d/" % server.server_address[1]
        with override_settings(STAPLER_MANIFEST_URL=url, STATIC_ROOT="/nonexistent"):
            check(manifest.location() == url + "CACHE/manifest.json", manifest.location())
            check(manifest.load() == len(MANIFEST), "keys read over HTTP")
            html = render("if_nonce.html", {"csp_nonce": "R"})
            check(html == '<script nonce="R">go();</script>', html)
        with override_settings(STAPLER_MANIFEST_URL=url + "nothing-here.json"):
            try:
                manifest.load()
                raise AssertionError("a missing remote manifest was read")
            except manifest.ManifestUnavailable as error:
                check("nothing-here.json could not be read: HTTP Error 404" in str(error), str(error))
    finally:
        server.shutdown()
    try:
        import boto3  # noqa: F401
    except ImportError:
        with override_settings(STAPLER_MANIFEST_URL="s3://bucket/site/CACHE/manifest.json"):
            try:
                manifest.load()
                raise AssertionError("s3 without boto3")
            except manifest.ManifestUnavailable as error:
                check("needs boto3" in str(error) and "pip install boto3" in str(error), str(error))
            ids = [finding.id for finding in run_checks()]
            check("stapler_assets.E003" in ids, "no check for boto3: %s" % ids)
    with override_settings(COMPRESS_OFFLINE=False):
        ids = [finding.id for finding in run_checks()]
        check("stapler_assets.W002" in ids, "no check for COMPRESS_OFFLINE off: %s" % ids)
    check("stapler_assets.W001" not in [f.id for f in run_checks()], "W001 with one app")
    return 4


ROOT = None


def test():
    global ROOT
    python_without_compressor()
    use_package_source()
    with tempfile.TemporaryDirectory() as tmp:
        ROOT = tmp
        write_manifest(tmp, MANIFEST)
        setup(tmp, TEMPLATES)
        import django

        count = 0
        for case in (
            test_keys_and_nonces,
            test_csp_nonce_attr,
            test_switches,
            test_reload,
            test_jinja2,
            test_add_nonce,
            test_remote_manifest,
        ):
            count += case()
    return "tags: %d checks pass (Django %s, Python %d.%d)" % (
        count, django.get_version(), sys.version_info[0], sys.version_info[1]
    )


if __name__ == "__main__":
    main(test)
