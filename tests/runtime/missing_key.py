"""The message a server shows for a block the manifest lacks, in Django and in Jinja2, printed
for a snapshot (the manifest's temporary folder is printed as <STATIC_ROOT>).

    python tests/runtime/missing_key.py

Run it with a Python that has Django and Jinja2; stapler_assets comes from python/ when it is
not installed.
"""

import json
import os
import tempfile

from support import check, main, use_package_source

TEMPLATES = {
    "layout.html": "{% load compress %}<!DOCTYPE html>\n<title>{% block title %}{% endblock %}</title>\n"
    "{% block scripts %}{% compress js %}\n<script src=\"{{ STATIC_URL }}js/app.js\"></script>\n"
    "{% endcompress %}{% endblock %}\n",
    "pages/home.html": '{% extends "layout.html" %}{% block title %}Home{% endblock %}',
}
JINJA2_TEMPLATE = "<!DOCTYPE html>\n{% compress 'css' %}\n<style>p { color: red }</style>\n{% endcompress %}\n"


def test():
    use_package_source()
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "CACHE"))
        with open(os.path.join(root, "CACHE", "manifest.json"), "w") as file:
            json.dump({"0" * 64: "<script></script>"}, file)
        from django.conf import settings

        settings.configure(
            INSTALLED_APPS=["stapler_assets"],
            STATIC_URL="/static/",
            STATIC_ROOT=root,
            COMPRESS_ENABLED=True,
            COMPRESS_OFFLINE=True,
            TEMPLATES=[
                {
                    "BACKEND": "django.template.backends.django.DjangoTemplates",
                    "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", TEMPLATES)]},
                }
            ],
        )
        import django
        import jinja2

        django.setup()
        from django.template.loader import get_template

        from stapler_assets.blocks import MissingManifestKey

        messages = []
        try:
            get_template("pages/home.html").render({"STATIC_URL": "/static/"})
        except MissingManifestKey as error:
            check(error.page == "pages/home.html" and error.template == "layout.html", repr(error))
            check(error.line == 3, "line %s" % error.line)
            messages.append(str(error))
        env = jinja2.Environment(
            loader=jinja2.DictLoader({"jinja/landing.html": JINJA2_TEMPLATE}),
            extensions=["stapler_assets.jinja2.CompressExtension"],
        )
        try:
            env.get_template("jinja/landing.html").render()
        except MissingManifestKey as error:
            check(error.line == 2, "line %s" % error.line)
            messages.append(str(error))
        check(len(messages) == 2, "a missing key rendered without an error")
        for message in messages:
            check("stapler lookup " in message, message)
            print(message.replace(root, "<STATIC_ROOT>"))
            print()
    return "missing_key: both messages name the template, the line and `stapler lookup`"


if __name__ == "__main__":
    main(test)
