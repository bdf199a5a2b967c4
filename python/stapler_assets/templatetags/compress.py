"""``{% load compress %}`` for servers without django-compressor: the same tag, rendered from
stapler's offline manifest.

``{% compress css|js [file|inline|preload [name]] %}...{% endcompress %}`` parses as
django-compressor's tag does. With ``COMPRESS_ENABLED`` and ``COMPRESS_OFFLINE`` on, the block's
body is rendered, keyed as django-compressor keys it, and replaced by the manifest's HTML; with
either off, the body renders as it is (stapler never compresses on request).
"""

from django import template

from django.template.base import TokenType

from stapler_assets.blocks import MODES, from_manifest, missing
from stapler_assets.conf import runtime
from stapler_assets.nonce import add_nonce, mentions_nonce, render_django_keyed

register = template.Library()


class CompressNode(template.Node):
    child_nodelists = ("nodelist",)

    def __init__(self, nodelist, kind, mode="file", name=None, nonce_aware=False):
        self.nodelist = nodelist
        self.kind = kind
        self.mode = mode
        self.name = name
        # The body refers to a nonce: keyed with it hidden, rendered with this request's.
        self.nonce_aware = nonce_aware

    def is_offline_compression_enabled(self, forced=False):
        """Every block is built offline (the name django-compressor's walker asks)."""
        return True

    def get_original_content(self, context):
        return self.nodelist.render(context)

    def render(self, context):
        settings = runtime()
        if not settings.offline or (
            settings.debug_toggle and _toggled(context, settings.debug_toggle)
        ):
            return self.nodelist.render(context)
        if self.nonce_aware or settings.nonce_always:
            body, nonce = render_django_keyed(self.nodelist, context)
        else:
            body, nonce = self.nodelist.render(context), None
        html = from_manifest(settings, body)
        if html is None:
            raise missing(settings, body, self.kind, *self._place(context))
        return add_nonce(html, nonce) if nonce else html

    def _place(self, context):
        """The template this tag is in, its line, and the template being rendered."""
        origin = getattr(self, "origin", None)
        token = getattr(self, "token", None)
        page = getattr(getattr(context, "template", None), "origin", None)
        return (
            _origin_name(origin),
            getattr(token, "lineno", None),
            _origin_name(page),
        )


def _origin_name(origin):
    if origin is None:
        return None
    return str(getattr(origin, "template_name", None) or origin.name)


def _toggled(context, toggle):
    request = context.get("request")
    return request is not None and toggle in request.GET


def _nodelist_mentions_nonce(nodelist):
    for node in nodelist:
        token = getattr(node, "token", None)
        if (
            token is not None
            and token.token_type != TokenType.TEXT
            and mentions_nonce(token.contents)
        ):
            return True
        for attribute in node.child_nodelists:
            children = getattr(node, attribute, None)
            if children and _nodelist_mentions_nonce(children):
                return True
    return False


@register.tag
def compress(parser, token):
    """``{% compress <css|js> [<file|inline|preload> [<name>]] %}...{% endcompress %}``"""
    nodelist = parser.parse(("endcompress",))
    parser.delete_first_token()
    args = token.split_contents()
    if len(args) not in (2, 3, 4):
        raise template.TemplateSyntaxError(
            "%r tag requires either one, two or three arguments." % args[0]
        )
    # As django-compressor's tag, the kind is not checked here: offline, only the key counts.
    kind = args[1]
    mode = args[2] if len(args) >= 3 else "file"
    if mode not in MODES:
        raise template.TemplateSyntaxError(
            "%r's second argument must be one of %s." % (args[0], ", ".join(map(repr, MODES)))
        )
    name = args[3] if len(args) == 4 else None
    return CompressNode(nodelist, kind, mode, name, _nodelist_mentions_nonce(nodelist))
