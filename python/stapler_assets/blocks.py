"""A compress block at runtime: its key, as django-compressor's offline mode computes it, and
its HTML from the manifest. Shared by the Django tag and the Jinja2 extension."""

import hashlib

from . import manifest

KINDS = ("css", "js")
MODES = ("file", "inline", "preload")


class MissingManifestKey(Exception):
    """A block whose key the offline manifest does not hold.

    ``key``, ``template`` (the file the block is in), ``line``, ``page`` (the template being
    rendered, which ``stapler lookup`` takes), ``body`` (the block as rendered here) and
    ``manifest`` (where the manifest was read from) say which.
    """

    def __init__(self, key, kind, template, line, page, body, where, count, engine="django"):
        self.key = key
        self.engine = engine
        self.kind = kind
        self.template = template
        self.line = line
        self.page = page or template
        self.body = body
        self.manifest = where
        super().__init__(self._message(count))

    def _message(self, count):
        place = "%s, line %s" % (self.template or "a template", self.line or "?")
        if self.page and self.page != self.template:
            place += " (rendering %s)" % self.page
        lookup = "stapler lookup %s" % (self.page or "<template>")
        if self.engine == "jinja2":
            lookup = "STAPLER_ENGINE=jinja2 " + lookup
        return (
            "the {%% compress %s %%} block at %s is not in the offline manifest: its key %s "
            "is not one of the %d keys in %s.\n"
            "The manifest was built from other templates, or this block renders here "
            "differently from the build (a variable the offline context lacks). Run `%s` to "
            "see each block of the page as the build renders it, with its key; if the "
            "template changed, rebuild with `stapler compress --offline`.\n"
            "The block as rendered here:\n%s"
            % (self.kind, place, self.key, count, self.manifest, lookup, self.body)
        )


def offline_key(body, static_url):
    """django-compressor's offline key: sha256 of the body with every ``STATIC_URL`` removed."""
    if static_url:
        body = body.replace(static_url, "")
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def from_manifest(runtime, body):
    """The manifest's HTML for a rendered body, with the real URL in place of the
    placeholder; None when the manifest lacks its key."""
    if runtime.static_url:
        key = hashlib.sha256(body.replace(runtime.static_url, "").encode("utf-8")).hexdigest()
    else:
        key = hashlib.sha256(body.encode("utf-8")).hexdigest()
    html = manifest.lookup(key)
    if html is None:
        return None
    return html.replace(runtime.placeholder, str(runtime.url))


def missing(runtime, body, kind, template, line, page, engine="django"):
    """The error for a body whose key the manifest lacks."""
    entries = manifest.entries()
    return MissingManifestKey(
        offline_key(body, runtime.static_url),
        kind,
        template,
        line,
        page,
        body,
        manifest.location(),
        len(entries),
        engine,
    )
