"""A generated site shaped like a real Django project rather than like a vendor bundle: most of
the bytes are per-page CSS and JS, pages share a few vendor libraries and components, layouts
form `{% extends %}` chains that use `{{ block.super }}`, stylesheets point at images, fonts and
a few files that do not exist, blocks hold inline `<style>`/`<script>`, and some blocks sit inside
`{% if %}`.

For `templates` templates: one base layout, one section layout per 40 pages (at least two), and
pages. Each page has a CSS block and a JS block of its own; a page in four adds a block inside
`{% if %}`. The same seed gives the same site.
"""

import os
import random
import shutil

# Vendor files every page loads (in the base layout's blocks, shared by all pages).
BASE_CSS = ["normalize.css-8.0.1/normalize.css", "bootstrap-3.4.1/dist/css/bootstrap.css"]
BASE_JS = ["jquery-3.7.1/dist/jquery.js", "bootstrap-3.4.1/dist/js/bootstrap.js"]
# Vendor widgets a section may use, as (css, js); a section's pages bundle them with their own code.
WIDGETS = [
    ("font-awesome-4.7.0/css/font-awesome.css", None),
    ("select2-4.0.13/dist/css/select2.css", "select2-4.0.13/dist/js/select2.js"),
    ("jquery-ui-1.13.3/dist/themes/base/jquery-ui.css", "jquery-ui-1.13.3/dist/jquery-ui.js"),
    (None, "chart.js-4.4.3/dist/chart.umd.js"),
    (None, "htmx.org-1.9.12/dist/htmx.js"),
    (None, None),
    (None, None),
    (None, None),
]
COMPONENTS = 60
PROPERTIES = [
    ("margin", lambda r: "%dpx %dpx" % (r.randint(0, 40), r.randint(0, 40))),
    ("padding", lambda r: "%dpx" % r.randint(0, 24)),
    ("color", lambda r: "#%06x" % r.randint(0, 0xFFFFFF)),
    ("background-color", lambda r: "rgba(%d, %d, %d, 0.%d)" % (r.randint(0, 255), r.randint(0, 255), r.randint(0, 255), r.randint(1, 9))),
    ("font-size", lambda r: "%.2frem" % (r.randint(70, 200) / 100)),
    ("border", lambda r: "1px solid #%03x" % r.randint(0, 0xFFF)),
    ("display", lambda r: r.choice(["block", "flex", "inline-block", "grid", "none"])),
    ("transition", lambda r: "opacity %dms ease-in-out" % r.randint(50, 500)),
    ("width", lambda r: "calc(100%% - %dpx)" % r.randint(0, 300)),
]


def stylesheet(rng, name, rules, images):
    """CSS with `rules` rules, some pointing at images (and, rarely, at a file that is missing)."""
    out = ["/* %s */\n" % name]
    for index in range(rules):
        selector = ".%s-%d%s" % (name, index, rng.choice(["", " > a", ":hover", " .item", "::before"]))
        body = []
        for prop, value in rng.sample(PROPERTIES, rng.randint(2, 6)):
            body.append("  %s: %s;\n" % (prop, value(rng)))
        roll = rng.random()
        if roll < 0.15:
            body.append("  background-image: url(../img/%s);\n" % rng.choice(images))
        elif roll < 0.153:
            body.append("  background-image: url(../img/missing-%d.png);\n" % rng.randint(0, 9))
        out.append("%s {\n%s}\n" % (selector, "".join(body)))
        if index % 25 == 24:
            out.append("@media (max-width: %dpx) {\n  .%s-%d { display: none; }\n}\n" % (rng.choice([576, 768, 992]), name, index))
    return "".join(out)


def script(rng, name, functions):
    """JS with `functions` functions in an IIFE, the way page code is usually written."""
    ident = name.replace("-", "_")
    out = ["// %s\n(function ($) {\n  'use strict';\n" % name]
    for index in range(functions):
        steps = rng.randint(3, 12)
        out.append(
            "  function %s_handler_%d(element, options) {\n"
            "    var settings = $.extend({}, { step: %d, label: '%s item %d' }, options || {});\n"
            "    var total = 0;\n"
            "    for (var position = 0; position < %d; position++) {\n"
            "      total += position * settings.step;\n"
            "      if (total > %d) { element.classList.add('is-large'); }\n"
            "    }\n"
            "    element.setAttribute('data-%s-%d', String(total));\n"
            "    return settings.label + ': ' + total;\n"
            "  }\n"
            "  $(document).on('click', '.%s-%d', function (event) {\n"
            "    event.preventDefault();\n"
            "    console.log(%s_handler_%d(event.currentTarget, { step: %d }));\n"
            "  });\n"
            % (ident, index, rng.randint(1, 9), name, index, steps, rng.randint(10, 900), name, index, name, index, ident, index, rng.randint(1, 5))
        )
    out.append("})(window.jQuery);\n")
    return "".join(out)


def generate(site, libs, templates):
    rng = random.Random(templates * 7919)
    shutil.rmtree(site, ignore_errors=True)
    static = os.path.join(site, "static")
    for folder in ("site/css", "site/js", "site/img", "site/fonts", "components/css", "components/js", "pages/css", "pages/js", "pages/img"):
        os.makedirs(os.path.join(static, folder))
    os.makedirs(os.path.join(site, "templates", "layouts"))
    os.makedirs(os.path.join(site, "templates", "pages"))
    images = []
    for index in range(80):
        name = "photo-%02d.%s" % (index, "png" if index % 3 else "svg")
        images.append(name)
        for folder in ("site/img", "pages/img", "components/img"):
            os.makedirs(os.path.join(static, folder), exist_ok=True)
            with open(os.path.join(static, folder, name), "wb") as handle:
                handle.write(rng.randbytes(rng.randint(300, 6000)))
    with open(os.path.join(static, "site", "fonts", "brand.woff2"), "wb") as handle:
        handle.write(rng.randbytes(20000))
    with open(os.path.join(static, "site", "css", "site.css"), "w") as handle:
        handle.write("@font-face { font-family: Brand; src: url(../fonts/brand.woff2) format('woff2'); }\n")
        handle.write(stylesheet(rng, "site", 300, images))
    with open(os.path.join(static, "site", "js", "site.js"), "w") as handle:
        handle.write(script(rng, "site", 60))
    for index in range(COMPONENTS):
        with open(os.path.join(static, "components", "css", "c%02d.css" % index), "w") as handle:
            handle.write(stylesheet(rng, "component-%d" % index, rng.randint(20, 80), images))
        with open(os.path.join(static, "components", "js", "c%02d.js" % index), "w") as handle:
            handle.write(script(rng, "component-%d" % index, rng.randint(5, 20)))

    sections = max(2, templates // 40)
    pages = max(1, templates - 1 - sections)
    css = "\n".join('<link rel="stylesheet" href="{%% static \'%s\' %%}">' % path for path in BASE_CSS)
    js = "\n".join('<script src="{%% static \'%s\' %%}"></script>' % path for path in BASE_JS)
    with open(os.path.join(site, "templates", "base.html"), "w") as handle:
        handle.write(
            "{% load static compress %}<!DOCTYPE html>\n<html><head>\n<title>{% block title %}Site{% endblock %}</title>\n"
            "{% compress css %}\n" + css + "\n<link rel=\"stylesheet\" href=\"{% static 'site/css/site.css' %}\">\n{% endcompress %}\n"
            "{% block extra_head %}{% endblock %}\n</head><body>\n{% block content %}{% endblock %}\n"
            "{% compress js %}\n" + js + "\n<script src=\"{% static 'site/js/site.js' %}\"></script>\n{% endcompress %}\n"
            "{% block extra_body %}{% endblock %}\n</body></html>\n"
        )
    for section in range(sections):
        widget_css, widget_js = WIDGETS[section % len(WIDGETS)]
        with open(os.path.join(static, "site", "css", "section-%03d.css" % section), "w") as handle:
            handle.write(stylesheet(rng, "section-%d" % section, 120, images))
        with open(os.path.join(static, "site", "js", "section-%03d.js" % section), "w") as handle:
            handle.write(script(rng, "section-%d" % section, 20))
        head = "".join([
            "{% extends 'base.html' %}{% load static compress %}\n",
            "{% block extra_head %}{% compress css %}\n",
            '<link rel="stylesheet" href="{%% static \'%s\' %%}">\n' % widget_css if widget_css else "",
            '<link rel="stylesheet" href="{%% static \'site/css/section-%03d.css\' %%}">\n' % section,
            "{% block page_css %}{% endblock %}\n{% endcompress %}{% endblock %}\n",
            "{%% block content %%}<main class=\"section-%d\">{%% block main %%}{%% endblock %%}</main>{%% endblock %%}\n" % section,
            "{% block extra_body %}{% compress js %}\n",
            '<script src="{%% static \'%s\' %%}"></script>\n' % widget_js if widget_js else "",
            '<script src="{%% static \'site/js/section-%03d.js\' %%}"></script>\n' % section,
            "{% block page_js %}{% endblock %}\n{% endcompress %}{% endblock %}\n",
        ])
        with open(os.path.join(site, "templates", "layouts", "section-%03d.html" % section), "w") as handle:
            handle.write(head)
    for page in range(pages):
        section = page % sections
        with open(os.path.join(static, "pages", "css", "p%04d.css" % page), "w") as handle:
            handle.write(stylesheet(rng, "page-%d" % page, rng.randint(40, 160), images))
        with open(os.path.join(static, "pages", "js", "p%04d.js" % page), "w") as handle:
            handle.write(script(rng, "page-%d" % page, rng.randint(10, 45)))
        components = rng.sample(range(COMPONENTS), rng.randint(0, 2))
        component_css = "".join('<link rel="stylesheet" href="{%% static \'components/css/c%02d.css\' %%}">\n' % c for c in components)
        component_js = "".join('<script src="{%% static \'components/js/c%02d.js\' %%}"></script>\n' % c for c in components)
        admin = ""
        if page % 4 == 3:
            admin = (
                "{%% if show_admin_tools %%}{%% compress css %%}<style>.admin-tools-%d { outline: 1px dashed #c00; }</style>{%% endcompress %%}{%% endif %%}\n" % page
            )
        text = "".join([
            "{%% extends 'layouts/section-%03d.html' %%}{%% load static compress %%}\n" % section,
            "{%% block title %%}Page %d | {{ block.super }}{%% endblock %%}\n" % page,
            "{% block page_css %}{{ block.super }}\n",
            component_css,
            '<link rel="stylesheet" href="{%% static \'pages/css/p%04d.css\' %%}">\n' % page,
            "<style>.page-%d-hero { min-height: %dpx; }</style>\n" % (page, rng.randint(100, 600)),
            "{% endblock %}\n",
            "{%% block main %%}<h1>Page %d</h1>\n%s{%% endblock %%}\n" % (page, admin),
            "{% block page_js %}\n",
            component_js,
            '<script src="{%% static \'pages/js/p%04d.js\' %%}"></script>\n' % page,
            "<script>window.pageId = %d;</script>\n" % page,
            "{% endblock %}\n",
        ])
        with open(os.path.join(site, "templates", "pages", "p%04d.html" % page), "w") as handle:
            handle.write(text)
    with open(os.path.join(site, "stapler.toml"), "w") as handle:
        handle.write('static_root = "build/static"\nstaticfiles_dirs = ["static", "%s"]\ntemplate_dirs = ["templates"]\n' % os.path.abspath(libs))


def vendor_inputs(libs):
    """The vendor files the realistic site reads, for the I/O floor."""
    paths = BASE_CSS + BASE_JS + [path for pair in WIDGETS for path in pair if path]
    return [os.path.join(libs, path) for path in paths]
