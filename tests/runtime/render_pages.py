"""Renders pages of a Django project and prints them as JSON, for the runtime tests to compare
django-compressor's tag with stapler_assets's.

    python render_pages.py PROJECT_DIR SETTINGS_MODULE ENGINE CONTEXTS PAGE...

ENGINE is a template engine's alias (``django``, ``jinja2``); CONTEXTS the dotted path of a
function returning the contexts (``mysite.contexts.offline``) or ``-`` for one empty context.
Prints ``{"pages": [{"page", "context", "html"} | {"page", "context", "error", "type"}]}``.
"""

import json
import os
import sys


def main():
    project, settings_module, engine, contexts_path, *pages = sys.argv[1:]
    sys.path.insert(0, project)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from importlib import import_module

    from django.template.loader import get_template

    if contexts_path == "-":
        contexts = [{}]
    else:
        module, function = contexts_path.rsplit(".", 1)
        contexts = list(getattr(import_module(module), function)())
    out = []
    for index, context in enumerate(contexts):
        for page in pages:
            try:
                html = get_template(page, using=engine).render(dict(context))
                out.append({"page": page, "context": index, "html": str(html)})
            except Exception as error:
                out.append(
                    {"page": page, "context": index, "error": str(error), "type": type(error).__name__}
                )
    print(json.dumps({"pages": out}))


main()
