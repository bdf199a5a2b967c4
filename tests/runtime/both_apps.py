"""Both "compressor" and "stapler_assets" in INSTALLED_APPS: Django's {% load compress %}
loads the library of the app listed last, and stapler_assets's system check says which.

    python tests/runtime/both_apps.py

Run it with a Python that has Django and django-compressor 4.x (stapler_assets comes from
python/ when it is not installed).
"""

import json
import subprocess
import sys

from support import check, main, package_env, use_package_source


def one_order(order):
    use_package_source()
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["django.contrib.staticfiles"] + order,
        STATIC_URL="/static/",
        STATIC_ROOT="/tmp",
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
    )
    import django

    django.setup()
    from django.core.checks import run_checks
    from django.template import engines

    template = engines["django"].from_string("{% load compress %}{% compress js %}{% endcompress %}")
    node = template.template.nodelist.get_nodes_by_type(django.template.Node)[-1]
    warnings = [str(finding.msg) for finding in run_checks() if finding.id == "stapler_assets.W001"]
    print(json.dumps({"node": type(node).__module__, "warnings": warnings}))


def test():
    use_package_source()
    try:
        import compressor  # noqa: F401
    except ImportError:
        raise SystemExit("run both_apps.py with a Python that has django-compressor")
    seen = {}
    for order in (["compressor", "stapler_assets"], ["stapler_assets", "compressor"]):
        done = subprocess.run(
            [sys.executable, __file__, "--order"] + order,
            capture_output=True,
            text=True,
            env=package_env(),
        )
        check(done.returncode == 0, done.stderr)
        seen[order[-1]] = json.loads(done.stdout)
    stapler, theirs = seen["stapler_assets"], seen["compressor"]
    check(stapler["node"] == "stapler_assets.templatetags.compress", "stapler listed last: %s" % stapler)
    check(theirs["node"] == "compressor.templatetags.compress", "compressor listed last: %s" % theirs)
    check(len(stapler["warnings"]) == 1 and "loads stapler_assets's tag" in stapler["warnings"][0], stapler)
    check(len(theirs["warnings"]) == 1 and "loads compressor's tag" in theirs["warnings"][0], theirs)
    return "both_apps: the app listed last gives {% load compress %}, and the check (W001) says which"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--order"]:
        one_order(sys.argv[2:])
    else:
        main(test)
