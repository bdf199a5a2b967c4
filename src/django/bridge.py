"""stapler's Django bridge, run by the stapler binary with the project's own Python.

It sets Django up once and then answers one JSON request per line on stdin with one JSON line on
the protocol stream. Anything the project prints goes to stderr, so it never mixes with answers.

Requests:
  {"op": "settings"}                      what the build needs from Django's settings
  {"op": "render", "templates": [...],     every compress block of each template, walked and
   "contexts": [...] | null,               rendered as django-compressor's offline command does
   "engine": "django" | "jinja2"}          (Jinja2 templates are named by their paths)
  {"op": "translate", "messages": [...]}   each [context, message] translated in LANGUAGE_CODE
  {"op": "static", "paths": [...]}         what {% static %} renders for each path
  {"op": "precompile", "kind": "css",     one element of a block compiled by the precompiler
   "element": "<link ...>"}                COMPRESS_PRECOMPILERS names for its type
  {"op": "elements", "blocks": [...]}      the elements COMPRESS_PARSER finds in each
                                           {"kind", "body"}, as split_contents reads them

The settings answer carries what making it read ("depends"): every file opened or probed and
folder listed, with its time and size, each environment variable read, by a hash of its value, and
what was done that no such list can vouch for (a subprocess, a connection, a database). The binary
keeps the answer with that list and asks again only when something on it changed.

Without django-compressor, stapler_assets (the wheel's Django app) stands in: the COMPRESS_*
settings come with its defaults, templates are walked by its own walker, which finds its
`{% compress %}` tag as well as django-compressor's, and the two ops that run django-compressor's
own Python classes (precompile, elements) answer that they need it.
"""

import json
import os
import sys
import time
import traceback

# django-compressor's package, or None when only stapler_assets is installed.
COMPRESSOR = None

PROTOCOL = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr


class Watch:
    """What the project's code reads while Django sets up and the settings answer is made."""

    # Events after which the answer may depend on something outside the files and variables seen.
    VOLATILE = (
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "socket.connect",
        "socket.getaddrinfo",
        "sqlite3.connect",
        "urllib.Request",
    )

    def __init__(self):
        self.on = False
        self.busy = False
        # path -> how it was seen: PROBED (only its existence asked: a folder then counts by its
        # kind, since resolving a path probes every folder above it), IMPORTED (a folder the
        # import system listed: it counts by the modules in it) or READ (its time and size).
        self.paths = {}
        # name -> the value it had when first read (None: unset), before the settings set any.
        self.env = {}
        # Variables the process set or removed, each with the value it had before (None: unset):
        # one set before it was read holds the process's own doing, and the whole environment
        # is compared as the process got it.
        self.env_before = {}
        # The whole environment when the settings went through it.
        self.all_env = None
        self.volatile = None
        self.since = 0
        # Files opened to be written (a log): their times are the process's own doing.
        self.written = set()

    def start(self):
        self.since = time.time_ns()
        real_stat, real_lstat = os.stat, os.lstat
        watch = self

        def stat(target, *args, **kwargs):
            watch.saw(target, PROBED)
            return real_stat(target, *args, **kwargs)

        def lstat(target, *args, **kwargs):
            watch.saw(target, PROBED)
            return real_lstat(target, *args, **kwargs)

        os.stat, os.lstat = stat, lstat

        class Environ(type(os.environ)):
            def __getitem__(self, key):
                try:
                    value = super().__getitem__(key)
                except KeyError:
                    watch.read_env(key, None)
                    raise
                watch.read_env(key, value)
                return value

            def before(self, key):
                value = self._data.get(self.encodekey(key))
                return None if value is None else self.decodevalue(value)

            def __setitem__(self, key, value):
                watch.set_env(key, self.before(key))
                super().__setitem__(key, value)

            def __delitem__(self, key):
                watch.set_env(key, self.before(key))
                super().__delitem__(key)

            def __iter__(self):
                if watch.on and watch.all_env is None:
                    # As the process got it: what it set itself, back as it was.
                    got = {self.decodekey(k): self.decodevalue(v) for k, v in self._data.items()}
                    for key, value in watch.env_before.items():
                        if value is None:
                            got.pop(key, None)
                        else:
                            got[key] = value
                    watch.all_env = sorted(got.items())
                return super().__iter__()

        os.environ.__class__ = Environ
        sys.addaudithook(self.event)
        self.on = True

    def read_env(self, key, value):
        if self.on and isinstance(key, str) and key not in self.env and key not in self.env_before:
            self.env[key] = value

    def set_env(self, key, before):
        if self.on and isinstance(key, str) and key not in self.env_before:
            self.env_before[key] = before

    def saw(self, target, how=None):
        if not self.on or self.busy or isinstance(target, int):
            return
        self.busy = True
        try:
            found = os.path.abspath(os.fsdecode(target))
            # The machine's state (/proc/self/limits, /sys/…/cpu), whose times are always now.
            if found.startswith(MACHINE):
                return
            self.paths[found] = max(self.paths.get(found, PROBED), READ if how is None else how)
        except (TypeError, ValueError):
            pass
        finally:
            self.busy = False

    def event(self, name, args):
        if not self.on or self.busy:
            return
        if name == "open" and writes_only(args):
            if args and isinstance(args[0], (str, bytes, os.PathLike)):
                self.busy = True
                try:
                    self.written.add(os.path.abspath(os.fsdecode(args[0])))
                except (TypeError, ValueError):
                    pass
                finally:
                    self.busy = False
            return
        if name in ("os.listdir", "os.scandir"):
            # The import system lists a folder on the path to find modules in it: what it can
            # find there is the modules, not the folder's time (which a build's outputs change).
            caller = sys._getframe(1).f_code.co_filename
            how = IMPORTED if caller.startswith("<frozen importlib") else READ
            self.saw(args[0] if args and args[0] is not None else ".", how)
        elif name == "open":
            self.saw(args[0] if args and args[0] is not None else ".")
        elif name == "import" and len(args) > 1 and args[1]:
            self.saw(args[1])
        elif name in self.VOLATILE and self.volatile is None:
            self.volatile = name

    def depends(self):
        """The list, read once the answer is made; watching stops."""
        import hashlib

        self.on = False
        # A module loaded from its cached bytecode never opens its source: every module's own
        # file counts as read.
        for module in list(sys.modules.values()):
            source = getattr(module, "__file__", None)
            if isinstance(source, str):
                self.paths[os.path.abspath(source)] = READ
        stamps = []
        for target, how in sorted(self.paths.items()):
            # A file the process writes and only asked about (a log handler checks its log's
            # time to know when to rotate it) says nothing the answer depends on.
            if how == PROBED and target in self.written:
                continue
            try:
                found = os.stat(target)
            except OSError:
                stamps.append([target, None])
                continue
            folder = os.path.isdir(target)
            if folder and how == PROBED:
                stamps.append([target, [None, None, True]])
            elif folder and how == IMPORTED:
                stamps.append([target, [None, modules_in(target), True]])
            else:
                stamps.append([target, [found.st_mtime_ns, found.st_size, folder]])
            # A file written moments before or while it was read may change again within the
            # file system's time resolution: its time cannot vouch for it. (Bytecode caches are
            # Python's own writing, and their sources are on the list.)
            recent = found.st_mtime_ns > self.since - FRESH_NS
            if recent and not folder and "__pycache__" not in target and self.volatile is None:
                self.volatile = "%s was written moments before it was read" % target

        def digest(text):
            return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

        env = {key: None if value is None else digest(value) for key, value in sorted(self.env.items())}
        whole = None
        if self.all_env is not None:
            whole = digest("".join("%s=%s\0" % pair for pair in self.all_env))
        return {"files": stamps, "env": env, "all_env": whole, "volatile": self.volatile}


# Where the kernel shows the machine's state as files: not on the list.
MACHINE = ("/proc/", "/sys/", "/dev/")

# How a path was seen, in rising order of what its stamp holds.
PROBED, IMPORTED, READ = 0, 1, 2

# The files a module can be loaded from.
MODULE_SUFFIXES = (".py", ".pyc", ".pyd", ".so")


def modules_in(folder):
    """What the import system can find in a folder, as a number: the first 8 bytes of the
    SHA-256 of its module files' and packages' names, sorted, each package ending with `/`,
    joined by NUL (the binary computes the same)."""
    import hashlib

    names = []
    for entry in os.scandir(folder):
        if entry.is_dir():
            if os.path.isfile(os.path.join(folder, entry.name, "__init__.py")):
                names.append(entry.name + "/")
        elif entry.name.endswith(MODULE_SUFFIXES):
            names.append(entry.name)
    text = "\0".join(sorted(names)).encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def writes_only(args):
    """Whether an `open` event's file is opened to be written and not read (a log, a cache):
    nothing the answer depends on."""
    mode = args[1] if len(args) > 1 else None
    flags = args[2] if len(args) > 2 else 0
    if isinstance(mode, str):
        return "r" not in mode and "+" not in mode
    return isinstance(flags, int) and flags & os.O_ACCMODE == os.O_WRONLY


# How long before the bridge started a file read counts as written while it was read.
FRESH_NS = 2_000_000_000

WATCH = Watch()


def send(message):
    PROTOCOL.write(json.dumps(message) + "\n")
    PROTOCOL.flush()


def failure(kind, error):
    return {
        "error": {
            "kind": kind,
            "message": "%s: %s" % (type(error).__name__, error),
            "traceback": traceback.format_exc(),
        }
    }


def path(value):
    """An absolute path (Django takes relative ones against the working directory)."""
    return os.path.abspath(str(value)) if value else None


def as_json(value):
    """The value as JSON, or None when any part of it has no JSON form."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return None


def compress_settings():
    """The COMPRESS_* settings as django-compressor resolves them, or, without it, as
    stapler_assets does (django-compressor's defaults)."""
    if COMPRESSOR is not None:
        from compressor.conf import settings
    else:
        from stapler_assets.conf import settings
    return settings


def needs_compressor(what):
    return RuntimeError(
        "%s needs django-compressor, which %s cannot import: pip install django-compressor"
        % (what, sys.executable)
    )


def offline_contexts():
    """COMPRESS_OFFLINE_CONTEXT evaluated as the offline command evaluates it."""
    from importlib import import_module

    contexts = compress_settings().COMPRESS_OFFLINE_CONTEXT
    if isinstance(contexts, str):
        # A generator may read anything (a database through a C driver, the clock): its
        # contexts are never taken from a record.
        if WATCH.on and WATCH.volatile is None:
            WATCH.volatile = "COMPRESS_OFFLINE_CONTEXT is a generator, which may read anything"
        module, _, function = contexts.rpartition(".")
        contexts = getattr(import_module(module), function)()
    elif not isinstance(contexts, (list, tuple)):
        contexts = [contexts]
    return [dict(context) for context in contexts]


CONTEXTS = None


def django_contexts():
    global CONTEXTS
    if CONTEXTS is None:
        CONTEXTS = offline_contexts()
    return CONTEXTS


def template_engines():
    from django.template import engines
    from django.template.backends.django import DjangoTemplates

    found = []
    for backend in engines.all():
        if isinstance(backend, DjangoTemplates):
            dirs = []
            for loader in loaders(backend.engine):
                try:
                    origins = loader.get_template_sources("")
                    for origin in origins:
                        if path(origin.name) not in dirs:
                            dirs.append(path(origin.name))
                except (AttributeError, TypeError):
                    continue
            found.append(
                {
                    "backend": "django",
                    "alias": backend.name,
                    "dirs": dirs,
                    "builtins": list(backend.engine.builtins),
                    "libraries": dict(backend.engine.libraries),
                    "tag_libraries": tag_libraries(backend.engine),
                }
            )
        else:
            kind = "jinja2" if hasattr(backend, "env") else type(backend).__name__
            extensions = []
            env = getattr(backend, "env", None)
            plain_syntax = False
            autoescape = True
            if env is not None:
                extensions = sorted(env.extensions)
                # Whether a body without tags renders as its own text: Jinja2's delimiters,
                # and no option that changes whitespace around tags.
                plain_syntax = (
                    env.block_start_string == "{%"
                    and env.variable_start_string == "{{"
                    and env.comment_start_string == "{#"
                    and not env.trim_blocks
                    and not env.lstrip_blocks
                    and env.line_statement_prefix is None
                    and env.line_comment_prefix is None
                )
                autoescape = bool(env.autoescape) if not callable(env.autoescape) else True
            found.append(
                {
                    "backend": kind,
                    "alias": backend.name,
                    "dirs": [path(d) for d in getattr(backend, "template_dirs", ())],
                    "extensions": extensions,
                    "plain_syntax": plain_syntax,
                    "autoescape": autoescape,
                }
            )
    return found


DJANGO_BUILTINS = (
    "django.template.defaulttags",
    "django.template.defaultfilters",
    "django.template.loader_tags",
)


def tag_libraries(engine):
    """The tags and filters of every library {% load %} can name, and of the builtins a
    project adds to every template."""

    def names(library):
        return {"tags": sorted(library.tags), "filters": sorted(library.filters)}

    def is_library(library):
        # Other engines' packages (django-jinja's) name modules `register` that are no Django
        # Library: Django loads them unless a template loads them, and so are left out here.
        return isinstance(getattr(library, "tags", None), dict) and isinstance(
            getattr(library, "filters", None), dict
        )

    return {
        "loadable": {
            name: names(library)
            for name, library in engine.template_libraries.items()
            if is_library(library)
        },
        "builtins": {
            module: names(library)
            for module, library in zip(engine.builtins, engine.template_builtins)
            if module not in DJANGO_BUILTINS and is_library(library)
        },
    }


def loaders(engine):
    """The engine's loaders, with the loaders a cached loader wraps in its place."""
    out = []
    for loader in engine.template_loaders:
        out.extend(getattr(loader, "loaders", [loader]))
    return out


def static_locations():
    from django.contrib.staticfiles import finders

    locations = []
    unsupported = []
    for finder in finders.get_finders():
        if isinstance(finder, finders.FileSystemFinder):
            for prefix, root in finder.locations:
                locations.append({"prefix": prefix or None, "path": path(root)})
        elif isinstance(finder, finders.AppDirectoriesFinder):
            for app in finder.apps:
                storage = finder.storages.get(app)
                if storage is not None:
                    locations.append({"prefix": None, "path": path(storage.location)})
        elif type(finder).__module__.startswith("compressor."):
            continue
        else:
            name = type(finder).__module__ + "." + type(finder).__name__
            unsupported.append(name)
    return locations, unsupported


def storage_class():
    from django.contrib.staticfiles.storage import staticfiles_storage

    staticfiles_storage._setup()
    cls = type(staticfiles_storage._wrapped)
    return cls.__module__ + "." + cls.__qualname__


def static_storage():
    """How the static files storage makes {% static %} URLs, as far as a build without Python
    can repeat it: "plain" (STATIC_URL and the quoted path), "manifest" (hashed names from the
    manifest collectstatic wrote) or "other"."""
    from django.conf import settings as django_settings
    from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
    from django.core.files.storage import FileSystemStorage

    staticfiles_storage._setup()
    storage = staticfiles_storage._wrapped
    static_url = str(django_settings.STATIC_URL or "")
    if isinstance(storage, ManifestFilesMixin):
        manifest_storage = getattr(storage, "manifest_storage", storage)
        try:
            manifest_path = manifest_storage.path(storage.manifest_name)
        except Exception:  # a remote manifest storage has no path
            manifest_path = None
        plain_base = str(storage.base_url or "") == static_url
        return {
            "kind": "manifest" if manifest_path and plain_base else "other",
            "manifest": path(manifest_path) if manifest_path else None,
            "manifest_strict": bool(storage.manifest_strict),
            "debug": bool(django_settings.DEBUG),
        }
    if isinstance(storage, FileSystemStorage) and str(storage.base_url or "") == static_url:
        probe = "stapler/probe file.css"
        try:
            plain = storage.url(probe) == static_url + "stapler/probe%20file.css"
        except Exception:
            plain = False
        if plain:
            return {"kind": "plain"}
    return {"kind": "other"}


def compress_storage():
    """The storage django-compressor writes outputs with: its class, and whether its URLs are
    COMPRESS_URL and the name, as the manifest's are. Without django-compressor, stapler's own
    files are the outputs: no storage class."""
    if COMPRESSOR is None:
        return {"class": "", "plain_urls": True}
    from compressor.conf import settings
    from compressor.storage import default_storage

    default_storage._setup()
    storage = default_storage._wrapped
    cls = type(storage)
    probe = settings.COMPRESS_OUTPUT_DIR.strip("/") + "/css/output.0123456789ab.css"
    try:
        plain_urls = storage.url(probe) == str(settings.COMPRESS_URL) + probe
    except Exception:
        plain_urls = False
    return {"class": cls.__module__ + "." + cls.__qualname__, "plain_urls": plain_urls}


def sri_hashes(value):
    """COMPRESS_SRI_HASHES as a list of names: one name or a list of them."""
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(name) for name in value]


def offline_manifest_path():
    """Where django-compressor's offline manifest storage keeps the manifest (a project may point
    COMPRESS_OFFLINE_MANIFEST_STORAGE_ALIAS at its static files storage); None for a storage
    without local paths, or without django-compressor."""
    if COMPRESSOR is None:
        return None
    try:
        from compressor.storage import default_offline_manifest_storage

        return path(default_offline_manifest_storage.path(compress_settings().COMPRESS_OFFLINE_MANIFEST))
    except Exception:  # a remote storage has no path
        return None


def settings_op(_request):
    from django.conf import settings as django_settings
    from django.utils import translation

    settings = compress_settings()
    locations, unsupported_finders = static_locations()
    try:
        contexts = offline_contexts()
        context_error = None
    except Exception as error:  # the project's own generator failed
        contexts = None
        context_error = "%s: %s" % (type(error).__name__, error)
    contexts_json = as_json(contexts) if contexts is not None else None
    filters = getattr(settings, "COMPRESS_FILTERS", None) or {}
    answer = {
        "STATIC_ROOT": path(django_settings.STATIC_ROOT),
        "STATIC_URL": str(django_settings.STATIC_URL) if django_settings.STATIC_URL else None,
        "COMPRESS_ROOT": path(settings.COMPRESS_ROOT),
        "COMPRESS_URL": str(settings.COMPRESS_URL),
        "COMPRESS_OUTPUT_DIR": settings.COMPRESS_OUTPUT_DIR,
        "COMPRESS_OFFLINE_MANIFEST": settings.COMPRESS_OFFLINE_MANIFEST,
        "offline_manifest_path": offline_manifest_path(),
        "COMPRESS_CSS_HASHING_METHOD": settings.COMPRESS_CSS_HASHING_METHOD,
        "COMPRESS_URL_PLACEHOLDER": settings.COMPRESS_URL_PLACEHOLDER,
        "COMPRESS_PRECOMPILERS": [list(pair) for pair in settings.COMPRESS_PRECOMPILERS],
        "COMPRESS_CACHEABLE_PRECOMPILERS": list(
            getattr(settings, "COMPRESS_CACHEABLE_PRECOMPILERS", None) or ()
        ),
        "COMPRESS_FILTERS": {kind: list(names) for kind, names in filters.items()},
        "COMPRESS_OFFLINE": bool(settings.COMPRESS_OFFLINE),
        "COMPRESS_SRI_HASHES": sri_hashes(getattr(settings, "COMPRESS_SRI_HASHES", None)),
        "COMPRESS_SRI_CROSSORIGIN": getattr(settings, "COMPRESS_SRI_CROSSORIGIN", None) or None,
        "LANGUAGE_CODE": str(django_settings.LANGUAGE_CODE),
        "STATICFILES_STORAGE": storage_class(),
        "static_storage": static_storage(),
        "COMPRESS_ENABLED": bool(settings.COMPRESS_ENABLED),
        "compress_storage": compress_storage(),
        "COMPRESS_PARSER": str(settings.COMPRESS_PARSER),
        "LANGUAGE_BIDI": bool(translation.get_language_bidi()),
        "offline_context": contexts_json,
        "offline_context_count": len(contexts) if contexts is not None else None,
        "offline_context_error": context_error,
        "offline_context_opaque": contexts is not None and contexts_json is None,
        "offline_context_setting": repr(settings.COMPRESS_OFFLINE_CONTEXT)[:200],
        "static_locations": locations,
        "unsupported_finders": unsupported_finders,
        "engines": template_engines(),
        "installed_apps": list(django_settings.INSTALLED_APPS),
    }
    if WATCH.on:
        try:
            answer["depends"] = WATCH.depends()
        except Exception:  # no list: the answer is not recorded, and asked again next run
            WATCH.on = False
    return answer


def block_arguments(node):
    """A compress node's kind, mode and name, from Django's node or Jinja2's call."""
    if hasattr(node, "kind"):
        name = None if node.name is None else str(node.name)
        return str(node.kind), str(node.mode), name, getattr(node, "token", None)
    kind, mode, name = (getattr(arg, "value", None) for arg in node.call.args[:3])
    return str(kind), str(mode), None if name is None else str(name), None


def template_errors():
    """What parsing or walking a template raises when Django cannot compile it."""
    from django import template

    errors = (template.TemplateSyntaxError, template.TemplateDoesNotExist)
    if COMPRESSOR is not None:
        from compressor import exceptions

        errors += (exceptions.TemplateSyntaxError, exceptions.TemplateDoesNotExist)
    return errors


STAPLER_JINJA2_EXTENSION = "stapler_assets.jinja2.CompressExtension"


def stapler_node_types():
    """stapler_assets's compress node class, when the package is importable."""
    try:
        from stapler_assets.templatetags.compress import CompressNode
    except ImportError:
        return ()
    return (CompressNode,)


def offline_parser(engine):
    """The walker of compress blocks: django-compressor's offline parser, taught stapler_assets's
    tag too, or, without django-compressor, stapler_assets's own walker."""
    settings = compress_settings()
    if COMPRESSOR is None:
        from stapler_assets.offline import DjangoWalker, Jinja2Walker

        if engine == "jinja2":
            return Jinja2Walker(env=settings.COMPRESS_JINJA2_GET_ENVIRONMENT())
        return DjangoWalker()
    if engine == "jinja2":
        from compressor.offline.jinja2 import Jinja2Parser

        class Jinja2BothTags(Jinja2Parser):
            def walk_nodes(self, node, block_name=None, context=None):
                for child in self.get_nodelist(node):
                    call = getattr(child, "call", None)
                    identifier = getattr(getattr(call, "node", None), "identifier", None)
                    if identifier in (self.COMPRESSOR_ID, STAPLER_JINJA2_EXTENSION):
                        yield child
                    else:
                        yield from self.walk_nodes(child, block_name=block_name)

        # As `compress --engine jinja2`: templates by path, the project's environment.
        return Jinja2BothTags(charset="utf-8", env=settings.COMPRESS_JINJA2_GET_ENVIRONMENT())
    from compressor.offline.django import DjangoParser
    from compressor.templatetags.compress import CompressorNode

    node_types = (CompressorNode,) + stapler_node_types()

    class DjangoBothTags(DjangoParser):
        def walk_nodes(self, node, original=None, context=None):
            if original is None:
                original = node
            for child in self.get_nodelist(node, original, context):
                if isinstance(child, node_types):
                    yield child
                else:
                    yield from self.walk_nodes(child, original, context)

    return DjangoBothTags(charset="utf-8")


def render_body(parser, template, context, node):
    """A block's body as the build keys it: a stapler_assets block that names a CSP nonce is
    rendered with the nonce hidden, as its runtime tag renders it."""
    if getattr(node, "nonce_aware", False):
        from stapler_assets.nonce import render_django_without_nonce

        context.template = template
        return render_django_without_nonce(node.nodelist, context)
    return parser.render_nodelist(template, context, node)


def missing_manifest_entry(error):
    """Whether a manifest storage refused a name its manifest lacks (before collectstatic): the
    error Django's `ManifestFilesMixin.stored_name` raises itself."""
    if not isinstance(error, ValueError):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and frames[-1].name == "stored_name" and frames[-1].filename.replace(
        "\\", "/"
    ).endswith("django/contrib/staticfiles/storage.py")


def render_op(request):
    from django.template import Context

    errors = template_errors()
    parser = offline_parser(request.get("engine"))
    contexts = request.get("contexts")
    if contexts is None:
        contexts = django_contexts()
    results = []
    for name in request["templates"]:
        result = {"name": name, "blocks": [], "skipped": None}
        results.append(result)
        try:
            template = parser.parse(name)
            template.template_name = name
        except (IOError, OSError) as error:
            result["skipped"] = "unreadable template: %s" % error
            continue
        except errors as error:
            if "DoesNotExist" in type(error).__name__:
                result["skipped"] = "Django finds no template by this name: %s" % error
            else:
                result["skipped"] = "invalid template (Django): %s" % error
            continue
        except UnicodeDecodeError as error:
            result["skipped"] = "not UTF-8: %s" % error
            continue
        for index, offline_context in enumerate(contexts):
            context = Context(parser.get_init_context(offline_context))
            try:
                nodes = list(parser.walk_nodes(template, context=context))
            except errors as error:
                if result["skipped"] is None:
                    result["skipped"] = "error in its parent template (Django): %s" % error
                continue
            for node in nodes:
                context.push()
                try:
                    body = render_body(parser, template, context, node)
                except Exception as error:
                    token = getattr(node, "token", None)
                    result["error"] = {
                        "origin": str(getattr(getattr(node, "origin", None), "name", name)),
                        "line": getattr(token, "lineno", 0) or getattr(node, "lineno", 0) or 0,
                        "message": "%s: %s" % (type(error).__name__, error),
                        "missing_manifest_entry": missing_manifest_entry(error),
                    }
                    break
                finally:
                    context.pop()
                kind, mode, block_name, token = block_arguments(node)
                result["blocks"].append(
                    {
                        "kind": kind,
                        "mode": mode,
                        "name": block_name,
                        "origin": str(getattr(getattr(node, "origin", None), "name", name)),
                        "line": getattr(token, "lineno", 0) or getattr(node, "lineno", 0) or 0,
                        "context": index,
                        "body": str(body),
                    }
                )
    return {"templates": results}


def static_op(request):
    """What {% static %} renders for each path: an URL, or why the storage has none."""
    from django.templatetags.static import static

    urls = []
    for name in request["paths"]:
        try:
            urls.append({"url": str(static(name))})
        except Exception as error:  # a manifest without the file, a storage that fails
            urls.append({"error": "%s: %s" % (type(error).__name__, error)})
    return {"urls": urls}


def translate_op(request):
    """Each [context, message] looked up as templates look it up offline: in LANGUAGE_CODE,
    with no language activated."""
    from django.utils import translation

    translations = []
    for context, message in request["messages"]:
        if context is None:
            translations.append(str(translation.gettext(message)))
        else:
            translations.append(str(translation.pgettext(context, message)))
    return {"translations": translations}


def elements_op(request):
    """The <link>/<style> (css) or <script> (js) elements django-compressor's configured parser
    finds in each block body, in its order, with their attributes and text."""
    if COMPRESSOR is None:
        error = needs_compressor("reading blocks with COMPRESS_PARSER")
        return {"blocks": [{"error": str(error)} for _ in request["blocks"]]}
    from compressor.conf import settings
    from compressor.utils import get_class

    parser_class = get_class(settings.COMPRESS_PARSER)
    answers = []
    for block in request["blocks"]:
        try:
            parser = parser_class(block["body"])
            elems = parser.css_elems() if block["kind"] == "css" else parser.js_elems()
            found = []
            for elem in elems:
                attrs = parser.elem_attribs(elem)
                text = parser.elem_content(elem) if parser.elem_name(elem) != "link" else ""
                found.append(
                    {
                        "tag": str(parser.elem_name(elem)).lower(),
                        "attrs": [
                            [str(name).lower(), None if value is None else str(value)]
                            for name, value in attrs.items()
                        ],
                        "text": "" if text is None else str(text),
                    }
                )
            answers.append({"elements": found})
        except Exception as error:  # what the peer's parser stops on
            answers.append({"error": "%s: %s" % (type(error).__name__, error)})
    return {"blocks": answers}


def precompile_op(request):
    """The element's text after its precompiler, as django-compressor's offline command runs
    it: in a worker thread, where nothing a template set in a thread-local (a theme an offline
    context generator chose) is seen."""
    import threading

    answer = {}

    def work():
        answer.update(precompile_here(request))

    worker = threading.Thread(target=work, name="stapler-precompile")
    worker.start()
    worker.join()
    return answer or {"error": "the precompiler's thread ended without an answer"}


def precompile_here(request):
    """The element's text after its precompiler, in the calling thread."""
    if COMPRESSOR is None:
        names = [command for kind, command in compress_settings().COMPRESS_PRECOMPILERS]
        return {
            "error": str(
                needs_compressor(
                    "the Python precompiler class of COMPRESS_PRECOMPILERS (%s), run through "
                    "django-compressor's filters," % ", ".join(names)
                )
            )
        }
    from compressor.base import METHOD_INPUT, SOURCE_FILE
    from compressor.css import CssCompressor
    from compressor.js import JsCompressor

    compressor_class = CssCompressor if request["kind"] == "css" else JsCompressor
    compressor = compressor_class(request["kind"], request["element"])
    try:
        for kind, value, basename, elem in compressor.split_contents():
            charset = compressor.parser.elem_attribs(elem).get("charset", compressor.charset)
            options = {
                "method": METHOD_INPUT,
                "elem": elem,
                "kind": kind,
                "basename": basename,
                "charset": charset,
            }
            if kind == SOURCE_FILE:
                options = dict(options, filename=value)
                value = compressor.get_filecontent(value, charset)
            _, value = compressor.precompile(value, **options)
            return {"text": str(value)}
    except Exception as error:  # the precompiler's own failure, reported with the element
        return {"error": "%s: %s" % (type(error).__name__, error)}
    return {"error": "django-compressor found no element to compile"}


HANDLERS = {
    "settings": settings_op,
    "render": render_op,
    "translate": translate_op,
    "static": static_op,
    "precompile": precompile_op,
    "elements": elements_op,
}


def compress_library():
    """The module `{% load compress %}` loads (Django takes the app listed last's)."""
    try:
        from django.template.backends.django import get_installed_libraries

        return get_installed_libraries().get("compress")
    except Exception:  # a broken tag library elsewhere; Django says so when it loads it
        return None


def main():
    global COMPRESSOR
    started = time.monotonic()
    project = os.environ.get("STAPLER_DJANGO_PROJECT")
    if os.environ.get("STAPLER_DJANGO_WATCH") == "1":
        WATCH.start()
    if project:
        sys.path.insert(0, project)
    try:
        import django
    except ImportError as error:
        send(failure("no_django", error))
        return
    try:
        import compressor

        COMPRESSOR = compressor
    except ImportError as error:
        try:
            import stapler_assets  # noqa: F401
        except ImportError:
            send(
                failure(
                    "no_compressor",
                    ImportError("%s; stapler-assets is not installed either" % error),
                )
            )
            return
    try:
        django.setup()
        if COMPRESSOR is not None:
            import compressor.offline.django  # noqa: F401
    except Exception as error:
        send(failure("settings", error))
        return
    from django.conf import settings

    apps = list(settings.INSTALLED_APPS)
    send(
        {
            "ready": {
                "python": sys.executable,
                "django": django.get_version(),
                "compressor": (
                    getattr(COMPRESSOR, "__version__", "unknown")
                    if COMPRESSOR is not None
                    else "not installed (stapler_assets renders the blocks)"
                ),
                "compressor_version": (
                    getattr(COMPRESSOR, "__version__", "unknown") if COMPRESSOR else None
                ),
                # Whether {% load compress %} loads: django-compressor's app or stapler_assets.
                "compressor_installed": "compressor" in apps or "stapler_assets" in apps,
                "compress_library": compress_library(),
                "seconds": time.monotonic() - started,
            }
        }
    )
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            send({"ok": HANDLERS[request["op"]](request)})
        except Exception as error:
            send(failure("failed", error))


main()
