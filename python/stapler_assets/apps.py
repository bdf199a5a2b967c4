from django.apps import AppConfig


class StaplerConfig(AppConfig):
    """``manage.py stapler``, and the runtime side: ``{% load compress %}`` (and the Jinja2
    extension ``stapler_assets.jinja2.CompressExtension``) rendered from stapler's manifest, in
    place of django-compressor's. Nothing is read at start-up; the system checks say when both
    apps are installed, and which tag wins."""

    name = "stapler_assets"
    label = "stapler_assets"
    verbose_name = "stapler"

    def ready(self):
        from django.core import checks

        from .checks import check_runtime

        checks.register(check_runtime)
