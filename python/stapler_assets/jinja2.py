"""``{% compress 'css' %}`` for Jinja2, rendered from stapler's offline manifest.

Add ``"stapler_assets.jinja2.CompressExtension"`` to the Jinja2 engine's extensions in place of
``"compressor.contrib.jinja2ext.CompressorExtension"``; templates keep their spelling:
``{% compress 'css' %}``, ``{% compress 'js', 'inline' %}``, ``{% compress 'css', 'file',
'name' %}`` (bare names work as constants, as with django-compressor's extension).
"""

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension
from markupsafe import Markup

from .blocks import KINDS, MODES, from_manifest, missing
from .conf import runtime
from .nonce import NONCE_NAMES, RequestWithoutNonce, add_nonce, request_nonce

# The caller's parameter that shows the nonce to the body (the original content does); the
# key's render, and the offline build's, leave it undefined, which hides it.
_VISIBLE = "stapler_nonce_visible"


def _constant(node):
    """``{% compress css %}``: a bare name stands for itself."""
    if isinstance(node, nodes.Name):
        return nodes.Const(node.name)
    return node


class CompressExtension(Extension):
    tags = {"compress"}

    def parse(self, parser):
        lineno = parser.stream.current.lineno
        next(parser.stream)
        kind = _constant(parser.parse_expression())
        if getattr(kind, "value", None) not in KINDS:
            raise TemplateSyntaxError(
                "Compress kind may be one of: %r, got: %r"
                % (KINDS, getattr(kind, "value", kind)),
                parser.stream.current.lineno,
            )
        parser.stream.skip_if("comma")
        mode = nodes.Const("file")
        name = nodes.Const(None)
        if parser.stream.current.type != "block_end":
            mode = _constant(parser.parse_expression())
            if getattr(mode, "value", None) not in MODES:
                raise TemplateSyntaxError(
                    "Compress mode may be one of: %r, got %r"
                    % (MODES, getattr(mode, "value", mode)),
                    parser.stream.current.lineno,
                )
            if mode.value == "file" and parser.stream.current.type != "block_end":
                parser.stream.skip_if("comma")
                name = _constant(parser.parse_expression())
        body = parser.parse_statements(["name:endcompress"], drop_needle=True)
        parser.stream.skip_if("name:" + kind.value)

        nonce_aware = _mentions_nonce(body)
        params, defaults = [], []
        if nonce_aware:
            body = [self._hide_nonce(body, lineno)]
            params, defaults = [nodes.Name(_VISIBLE, "param")], [nodes.Const(False)]
        call = self.call_method(
            "_compress",
            [
                kind,
                mode,
                name,
                nodes.Const(parser.name),
                nodes.Const(lineno),
                nodes.Const(nonce_aware),
                nodes.ContextReference(),
            ],
        )
        return nodes.CallBlock(call, params, defaults, body).set_lineno(lineno)

    def _hide_nonce(self, body, lineno):
        """The body inside ``{% with %}`` that, unless the caller shows it, makes the nonce
        names undefined and the request one without a nonce."""
        visible = nodes.Name(_VISIBLE, "load")
        targets, values = [], []
        for name in NONCE_NAMES:
            targets.append(nodes.Name(name, "store"))
            values.append(
                nodes.CondExpr(
                    visible,
                    nodes.Name(name, "load"),
                    self.call_method("_undefined", [nodes.Const(name)]),
                )
            )
        targets.append(nodes.Name("request", "store"))
        values.append(
            nodes.CondExpr(
                visible,
                nodes.Name("request", "load"),
                self.call_method("_request_without_nonce", [nodes.Name("request", "load")]),
            )
        )
        return nodes.With(targets, values, body).set_lineno(lineno)

    def _undefined(self, name):
        return self.environment.undefined(name=name)

    def _request_without_nonce(self, request):
        if request is None or isinstance(request, self.environment.undefined):
            return request
        return RequestWithoutNonce(request)

    def _compress(self, kind, mode, name, template, line, nonce_aware, context, caller):
        settings = runtime()
        if not settings.offline or (
            settings.debug_toggle and _toggled(context, settings.debug_toggle)
        ):
            return caller(True) if nonce_aware else caller()
        body = str(caller())
        html = from_manifest(settings, body)
        if html is None:
            raise missing(settings, body, kind, template, line, context.name, "jinja2")
        if nonce_aware or settings.nonce_always:
            nonce = request_nonce(context.get("request"), context.get)
            if nonce:
                html = add_nonce(html, nonce)
        return Markup(html)


def _toggled(context, toggle):
    request = context.get("request")
    return request is not None and toggle in getattr(request, "GET", ())


def _mentions_nonce(body):
    for node in nodes.Template(body).find_all((nodes.Name, nodes.Getattr, nodes.Const)):
        if isinstance(node, nodes.Name) and node.name in NONCE_NAMES:
            return True
        if isinstance(node, nodes.Getattr) and node.attr in NONCE_NAMES:
            return True
        if isinstance(node, nodes.Const) and node.value in NONCE_NAMES:  # request["csp_nonce"]
            return True
    return False
