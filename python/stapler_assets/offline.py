"""Finding and rendering every compress block of a template as an offline build does, for
stapler's Django bridge when django-compressor is not installed.

A Django template that extends another is walked as the root template's nodes with each
``{% block %}`` replaced by its most-derived override and ``{{ block.super }}`` by the parent's
content, so blocks in every branch of an ``{% if %}`` and in every overridden block are found.
Jinja2 templates are walked as written (no inheritance), as django-compressor walks them.
Both walkers know django-compressor's tag and stapler_assets's.
"""

import io
from copy import copy

from django.template import Context, TemplateDoesNotExist, TemplateSyntaxError
from django.template.base import Node, NodeList, TextNode, VariableNode
from django.template.defaulttags import IfNode
from django.template.loader import get_template
from django.template.loader_tags import BLOCK_CONTEXT_KEY, BlockContext, BlockNode, ExtendsNode

from .nonce import render_django_without_nonce

STAPLER_JINJA2_EXTENSION = "stapler_assets.jinja2.CompressExtension"
COMPRESSOR_JINJA2_EXTENSION = "compressor.contrib.jinja2ext.CompressorExtension"


def compress_node_types():
    """The node classes of ``{% compress %}``: stapler_assets's, and django-compressor's when
    it can be imported."""
    from .templatetags.compress import CompressNode

    types = [CompressNode]
    try:
        from compressor.templatetags.compress import CompressorNode
    except Exception:  # not installed, or not configured in this project
        pass
    else:
        types.append(CompressorNode)
    return tuple(types)


class DjangoWalker:
    """Templates by name, through Django's loaders."""

    def __init__(self, charset="utf-8"):
        self.charset = charset
        self.node_types = compress_node_types()

    def parse(self, template_name):
        return get_template(template_name).template

    def get_init_context(self, offline_context):
        return offline_context

    def walk_nodes(self, template, context=None):
        """Every compress node of the template, inheritance resolved, in document order."""
        return self._walk(self._children(template, template, context), template, context)

    def render_nodelist(self, template, context, node):
        """The block's body as the build keys it (a nonce, if it names one, hidden as the
        runtime tag hides it)."""
        context.template = template
        if getattr(node, "nonce_aware", False):
            return render_django_without_nonce(node.nodelist, context)
        return node.nodelist.render(context)

    def _walk(self, nodes, original, context):
        for node in nodes:
            if isinstance(node, self.node_types):
                yield node
            else:
                yield from self._walk(self._children(node, original, context), original, context)

    def _children(self, node, original, context):
        if isinstance(node, ExtendsNode):
            if context is None:
                context = Context()
            context.template = original
            return inherited_nodelist(node, context)
        if isinstance(node, Node):
            children = []
            for attribute in node.child_nodelists:
                children.extend(getattr(node, attribute, None) or ())
            return children
        return getattr(node, "nodelist", ())


def inherited_nodelist(extends, context):
    """The root template's nodes, with every ``{% block %}`` replaced by its content from the
    most-derived template that overrides it."""
    if BLOCK_CONTEXT_KEY not in context.render_context:
        context.render_context[BLOCK_CONTEXT_KEY] = BlockContext()
    blocks = context.render_context[BLOCK_CONTEXT_KEY]
    node = extends
    while True:
        blocks.add_blocks(_blocks_of(node.nodelist))
        parent = node.get_parent(context)
        first = next((child for child in parent.nodelist if not isinstance(child, TextNode)), None)
        if not isinstance(first, ExtendsNode):
            blocks.add_blocks(_blocks_of(parent.nodelist))
            return _expand(parent.nodelist, [], blocks)
        node = first


def _blocks_of(nodelist):
    return {block.name: block for block in nodelist.get_nodes_by_type(BlockNode)}


def _expand(nodelist, stack, blocks):
    """``nodelist`` with blocks expanded; nodes holding children are copied, never changed,
    since the template loader's cache shares them with every other template."""
    expanded = NodeList()
    for node in nodelist:
        if isinstance(node, VariableNode) and node.filter_expression.token.strip() == "block.super":
            if not stack:
                continue
            node = blocks.get_block(stack[-1].name)
            if node is None:
                continue
        if isinstance(node, BlockNode):
            expanded.extend(_expand_block(node, stack, blocks))
        elif isinstance(node, IfNode):
            node = copy(node)
            node.conditions_nodelists = [
                (condition, _expand(children, stack, blocks))
                for condition, children in node.conditions_nodelists
            ]
            expanded.append(node)
        else:
            for attribute in node.child_nodelists:
                children = getattr(node, attribute, None)
                if children:
                    node = copy(node)
                    setattr(node, attribute, _expand(children, stack, blocks))
            expanded.append(node)
    return expanded


def _expand_block(node, stack, blocks):
    override = blocks.pop(node.name)
    block = node if override is None else override
    stack.append(block)
    try:
        expanded = _expand(block.nodelist, stack, blocks)
    finally:
        stack.pop()
    if override is not None:
        blocks.push(node.name, override)
    return expanded


class Jinja2Walker:
    """Templates by path, parsed and rendered with the project's environment."""

    def __init__(self, env, charset="utf-8"):
        self.env = env
        self.charset = charset

    def parse(self, template_name):
        import jinja2

        with io.open(template_name, mode="rb") as file:
            source = file.read().decode(self.charset)
        try:
            return self.env.parse(source)
        except jinja2.TemplateSyntaxError as error:
            raise TemplateSyntaxError(str(error))
        except jinja2.TemplateNotFound as error:
            raise TemplateDoesNotExist(str(error))

    def get_init_context(self, offline_context):
        context = dict(self.env.globals)
        context.update(_flat(offline_context))
        return context

    def walk_nodes(self, template, context=None):
        from jinja2 import nodes

        for node in _jinja2_children(template):
            call = getattr(node, "call", None)
            if (
                isinstance(node, nodes.CallBlock)
                and isinstance(call, nodes.Call)
                and isinstance(call.node, nodes.ExtensionAttribute)
                and call.node.identifier in (STAPLER_JINJA2_EXTENSION, COMPRESSOR_JINJA2_EXTENSION)
            ):
                yield node
            else:
                yield from self.walk_nodes(node)

    def render_nodelist(self, template, context, node):
        import jinja2
        from jinja2 import nodes

        code = self.env.compile(nodes.Template(node.body))
        return jinja2.Template.from_code(self.env, code, {}).render(_flat(context))


def _jinja2_children(node):
    from jinja2 import nodes

    children = getattr(node, "body", getattr(node, "nodes", []))
    if isinstance(node, nodes.If):
        return children + node.elif_ + node.else_
    return children


def _flat(context):
    """A Django context (its layers merged, the last winning) or a dict, as one dict."""
    if hasattr(context, "dicts"):
        flat = {}
        for layer in context.dicts:
            flat.update(layer)
        return flat
    return context
