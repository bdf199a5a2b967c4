"""The fixture project's pages, on a server without django-compressor: rendered by
stapler_assets from a manifest stapler built, they are exactly the pages django-compressor's
own tag renders from that manifest, in Django and in Jinja2. The Django bridge, run with this
Python (no django-compressor), finds and keys every block as the build did.

    python tests/runtime/fixture_pages.py --stapler target/debug/stapler \\
        --peer-python target/compat-venv/bin/python

Run it with a Python that has Django and Jinja2 but not django-compressor (stapler_assets is
taken from python/ when not installed); --peer-python has django-compressor 4.x, Django and
Jinja2, and builds the manifest (through stapler's bridge) and renders the reference pages.
"""

import argparse
import os
import sys
import tempfile

from support import (
    add_stapler_settings,
    bridge,
    check,
    copy_fixture,
    main,
    manifest,
    offline_key,
    package_env,
    python_without_compressor,
    render_pages,
    run,
    stapler_binary,
)

PAGES = [
    "pages/plain.html",
    "pages/custom.html",
    "pages/widgets.html",
    "pages/cached.html",
    "pages/i18n.html",
    "pages/include.html",
    "pages/precompiled.html",
    "shop/product.html",
]
JINJA2_PAGES = ["jinja/landing.html", "jinja/plain.html"]
CONTEXTS = "mysite.contexts.offline"


def build(stapler, peer, project, root, engine):
    env = package_env({"FIXTURE_STATIC_ROOT": root})
    if engine == "jinja2":
        env["STAPLER_ENGINE"] = "jinja2"
    run([stapler, "compress", "--offline", "--python", peer], cwd=project, env=env, what="stapler")
    return manifest(root)


def compare_pages(peer, project, root, engine, pages):
    env = package_env({"FIXTURE_STATIC_ROOT": root})
    theirs = render_pages(peer, project, "mysite.settings", engine, CONTEXTS, pages, env)
    ours = render_pages(sys.executable, project, "mysite.settings_stapler", engine, CONTEXTS, pages, env)
    check(len(theirs) == len(ours) == 2 * len(pages), "pages rendered: %d and %d" % (len(theirs), len(ours)))
    for mine, reference in zip(ours, theirs):
        where = "%s (context %d, %s)" % (mine["page"], mine["context"], engine)
        check("error" not in reference, "django-compressor failed on %s: %s" % (where, reference))
        check("error" not in mine, "stapler_assets failed on %s: %s" % (where, mine))
        check(
            mine["html"] == reference["html"],
            "%s differs\n--- django-compressor\n%s\n--- stapler_assets\n%s"
            % (where, reference["html"], mine["html"]),
        )
        check("__compressor_url_placeholder__" not in mine["html"], "placeholder left in %s" % where)
    return len(ours)


def template_names(folder):
    names = []
    for top, _, files in os.walk(folder):
        for name in files:
            if name.endswith(".html"):
                names.append(os.path.relpath(os.path.join(top, name), folder))
    return sorted(names)


def bridge_keys(project, root, engine):
    """The keys the bridge computes with this Python (stapler_assets's walker)."""
    env = package_env({"FIXTURE_STATIC_ROOT": root})
    if engine == "jinja2":
        names = [os.path.join(project, "jinja2", name) for name in template_names(os.path.join(project, "jinja2"))]
    else:
        names = template_names(os.path.join(project, "templates")) + template_names(
            os.path.join(project, "shop", "templates")
        )
    ready, answers = bridge(
        sys.executable,
        project,
        "mysite.settings_stapler",
        [{"op": "settings"}, {"op": "render", "templates": names, "contexts": None, "engine": engine}],
        env,
    )
    check(ready["compress_library"] == "stapler_assets.templatetags.compress", "ready: %s" % ready)
    check(ready["compressor_installed"] is True, "ready: %s" % ready)
    settings_answer, render_answer = answers
    check("ok" in settings_answer, "settings op failed: %s" % settings_answer)
    found = settings_answer["ok"]
    check(found["COMPRESS_OFFLINE"] is True and found["COMPRESS_URL"] == "/static/", "settings: %s" % found)
    check(found["offline_context_count"] == 2, "offline contexts: %s" % found["offline_context"])
    check("ok" in render_answer, "render op failed: %s" % render_answer)
    keys = set()
    for template in render_answer["ok"]["templates"]:
        check(not template.get("error"), "bridge error: %s" % template)
        check(not template["skipped"], "bridge skipped %s: %s" % (template["name"], template["skipped"]))
        for block in template["blocks"]:
            keys.add(offline_key(block["body"], "/static/"))
    return keys


def test():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stapler")
    parser.add_argument("--peer-python", required=True)
    parser.add_argument(
        "--build-without-compressor",
        action="store_true",
        help="also build with this Python (no django-compressor) and the stapler_assets settings, "
        "through the bridge embedded in the binary, and compare the keys",
    )
    args = parser.parse_args()
    python_without_compressor()
    stapler = stapler_binary(args)
    args.peer_python = os.path.abspath(args.peer_python)
    rendered = 0
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_fixture(os.path.join(tmp, "project"))
        add_stapler_settings(project)
        keys = {}
        for engine, pages in (("django", PAGES), ("jinja2", JINJA2_PAGES)):
            root = os.path.join(tmp, engine + "-root")
            built = build(stapler, args.peer_python, project, root, engine)
            rendered += compare_pages(args.peer_python, project, root, engine, pages)
            ours = bridge_keys(project, root, engine)
            check(
                ours == set(built),
                "%s: the bridge's keys without django-compressor differ from the build's:\n"
                "only the bridge: %s\nonly the build: %s"
                % (engine, sorted(ours - set(built)), sorted(set(built) - ours)),
            )
            keys[engine] = len(built)
            if args.build_without_compressor:
                alone = os.path.join(tmp, engine + "-alone-root")
                env = package_env({"FIXTURE_STATIC_ROOT": alone})
                if engine == "jinja2":
                    env["STAPLER_ENGINE"] = "jinja2"
                run(
                    [stapler, "compress", "--offline", "--python", sys.executable,
                     "--settings", "mysite.settings_stapler"],
                    cwd=project, env=env, what="stapler without django-compressor",
                )
                check(
                    set(manifest(alone)) == set(built),
                    "%s: built without django-compressor, the keys differ" % engine,
                )
    alone = " (and built without it: same keys)" if args.build_without_compressor else ""
    return (
        "fixture_pages%s: %d pages render as django-compressor renders them, without it; the "
        "bridge without django-compressor finds the build's %d Django and %d Jinja2 keys"
        % (alone, rendered, keys["django"], keys["jinja2"])
    )


if __name__ == "__main__":
    main(test)
