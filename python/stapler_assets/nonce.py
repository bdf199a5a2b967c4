"""CSP nonces in compress blocks.

A block's key is the sha256 of its body as the offline build rendered it, and the offline
context has no nonce (``csp_nonce`` undefined, no ``request``). So at runtime the body is
rendered with the nonce hidden the same way: ``csp_nonce`` and ``CSP_NONCE`` undefined,
``request.csp_nonce`` empty. ``{{ csp_nonce }}``, ``{% if csp_nonce %}`` and Django's
``{% csp_nonce_attr %}`` then render as they did offline, and the key is the build's. The
manifest's HTML then gets this request's nonce on each ``<script>``, ``<style>`` and
``<link>``. The manifest and the caches here hold no nonce.
"""

import re
from html import escape

try:  # Django 6.0 and later
    from django.middleware.csp import get_nonce as _django_get_nonce
except ImportError:
    _django_get_nonce = None

# The context names a nonce goes by: Django's csp context processor, django-csp's.
NONCE_NAMES = ("csp_nonce", "CSP_NONCE")


def mentions_nonce(text):
    """Whether template source (a tag's or a variable's) refers to a nonce."""
    return "csp_nonce" in text or "CSP_NONCE" in text


class RequestWithoutNonce:
    """The request as a block's key sees it: itself, but with no nonce."""

    __slots__ = ("_request",)
    csp_nonce = ""
    _csp_nonce = None

    def __init__(self, request):
        object.__setattr__(self, "_request", request)

    def __getattr__(self, name):
        return getattr(self._request, name)


def request_nonce(request, context_get):
    """This request's nonce: Django's (``get_nonce``, which also puts it in the header), then
    django-csp's ``request.csp_nonce``, then what the context holds. None without one."""
    if request is not None:
        if _django_get_nonce is not None:
            nonce = _django_get_nonce(request)
            if nonce is not None:
                return str(nonce)
        nonce = getattr(request, "csp_nonce", None)
        if nonce:
            return str(nonce)
    for name in NONCE_NAMES:
        nonce = context_get(name)
        if nonce:
            return str(nonce)
    return None


def render_django_without_nonce(nodelist, context):
    """The nodelist rendered with the nonce hidden as the offline context hides it: the nonce
    names removed from every layer for the render, the request replaced by one without."""
    return render_django_keyed(nodelist, context)[0]


def render_django_keyed(nodelist, context):
    """``(body, nonce)``: the body rendered with the nonce hidden, and this request's nonce
    (None without one), found in one pass over the context's layers."""
    removed = []
    request = None
    for layer in context.dicts:
        if "request" in layer:
            request = layer["request"]
        for name in NONCE_NAMES:
            if name in layer:
                removed.append((layer, name, layer.pop(name)))
    if not removed and request is None:
        return nodelist.render(context), None
    if request is not None:
        context.push(request=RequestWithoutNonce(request))
    try:
        body = nodelist.render(context)
    finally:
        if request is not None:
            context.pop()
        for layer, name, value in reversed(removed):
            layer[name] = value
    values = {name: value for _, name, value in removed}  # the topmost layer's last
    return body, request_nonce(request, values.get)


# Where the nonce goes in a tag: a new attribute, the inside of an empty value, or a value for
# a bare `nonce`.
_NEW, _FILL, _BARE = 0, 1, 2

_TAG = re.compile(r"<(?:(script|style|link)(?=[\s/>])|!--)", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    r"""[\s/]*(?:(>)|([^\s/>=][^\s/>=]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*)))?)""",
    re.IGNORECASE,
)


def nonce_slots(html):
    """``html`` cut where a nonce goes: ``(pieces, kinds)`` with one kind per cut. Tags that
    already carry a nonce keep it; ``<script>`` and ``<style>`` text is skipped."""
    pieces, kinds = [], []
    start = 0
    position = 0
    while True:
        tag = _TAG.search(html, position)
        if tag is None:
            break
        name = tag.group(1)
        if name is None:  # a comment
            end = html.find("-->", tag.end())
            position = len(html) if end < 0 else end + 3
            continue
        cut, kind, position = _tag_slot(html, tag.end())
        if cut is not None:
            pieces.append(html[start:cut])
            kinds.append(kind)
            start = cut
        if name.lower() in ("script", "style"):
            close = re.compile(r"</%s" % name, re.IGNORECASE).search(html, position)
            position = len(html) if close is None else close.start()
    pieces.append(html[start:])
    return tuple(pieces), tuple(kinds)


def _tag_slot(html, position):
    """Where in the start tag at ``position`` the nonce goes, its kind, and where the tag
    ends. ``(None, None, end)`` when the tag has a nonce already."""
    while position < len(html):
        attribute = _ATTRIBUTE.match(html, position)
        if attribute is None or attribute.end() == position:
            break
        if attribute.group(1):  # the tag's end: the nonce goes after the last attribute
            return attribute.start(), _NEW, attribute.end()
        if attribute.group(2).lower() == "nonce":
            if attribute.group(3) is not None and attribute.group(3) == "":
                return attribute.start(3), _FILL, attribute.end()
            if attribute.group(4) is not None and attribute.group(4) == "":
                return attribute.start(4), _FILL, attribute.end()
            if attribute.group(3) is None and attribute.group(4) is None:
                if attribute.group(5) is None:
                    return attribute.end(2), _BARE, attribute.end()
                if attribute.group(5) == "":
                    return attribute.end(), _FILL_UNQUOTED, attribute.end()
            return None, None, _tag_end(html, attribute.end())
        position = attribute.end()
    return None, None, len(html)


_FILL_UNQUOTED = 3


def _tag_end(html, position):
    while position < len(html):
        attribute = _ATTRIBUTE.match(html, position)
        if attribute is None or attribute.end() == position:
            return len(html)
        if attribute.group(1):
            return attribute.end()
        position = attribute.end()
    return len(html)


_FORMS = {
    _NEW: ' nonce="%s"',
    _FILL: "%s",
    _BARE: '="%s"',
    _FILL_UNQUOTED: '"%s"',
}

_slots_cache = {}


def add_nonce(html, nonce):
    """``html`` with ``nonce`` on each ``<script>``, ``<style>`` and ``<link>``. Where the
    nonce goes is worked out once per manifest value and kept (without the nonce)."""
    slots = _slots_cache.get(html)
    if slots is None:
        if len(_slots_cache) > 4096:
            _slots_cache.clear()
        slots = _slots_cache[html] = nonce_slots(html)
    pieces, kinds = slots
    if not kinds:
        return html
    nonce = escape(nonce, quote=True)
    out = [pieces[0]]
    for kind, piece in zip(kinds, pieces[1:]):
        out.append(_FORMS[kind] % nonce)
        out.append(piece)
    return "".join(out)
