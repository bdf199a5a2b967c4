from django.apps import AppConfig


class StaplerConfig(AppConfig):
    """Adds the ``stapler`` management command; nothing runs at start-up."""

    name = "stapler_assets"
    label = "stapler_assets"
    verbose_name = "stapler"
