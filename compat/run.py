#!/usr/bin/env python3
"""Peer-differential harness: real Django projects through django-compressor and through stapler.

    python3 compat/run.py [--project NAME ...] [--compressor 4.7|4.6] [--sources DIR] [--stapler PATH]

For each project of compat/corpus.toml: a virtualenv with the project's requirements and
django-compressor, `collectstatic` into a scratch static root, then three copies of it:
`manage.py compress --force` (the peer), `stapler compress --offline` beside manage.py with no
stapler.toml (drop-in), and `stapler init` + `stapler compress --offline` (native). It compares
the manifests' keys, the parts of every block (django-compressor's own `split_contents` against
stapler's `build.parts`), whether each JavaScript output parses with `node --check` where the
peer's does, and the CSS selectors each output keeps. The table goes to stdout and
compat/RESULTS.md; every difference is a failure line; the exit code is 1 if there is any.
See compat/README.md.
"""
import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROJECTS = HERE / "projects"
HELPER = HERE / "peer_helper.py"
PLACEHOLDER = "/__compressor_url_placeholder__/"
COMPRESSOR_PINS = {"4.7": "django-compressor==4.7.*", "4.6": "django-compressor==4.6.*"}
SETTINGS_SHIM = "compat_settings"
ATTRS_THAT_MATTER = ("type", "media", "async", "defer", "charset")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, cwd=None, env=None, timeout=3600, capture=True):
    """Runs a command; returns (exit code, stdout, stderr, seconds)."""
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            env=env,
            timeout=timeout,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            text=True,
            errors="replace",
        )
        return proc.returncode, proc.stdout or "", proc.stderr or "", time.monotonic() - start
    except subprocess.TimeoutExpired as exc:
        return 124, exc.stdout or "", "timed out after %ss" % timeout, time.monotonic() - start
    except OSError as exc:
        return 127, "", str(exc), time.monotonic() - start


def tail(text, lines=15):
    rows = [r for r in (text or "").strip().splitlines() if r.strip()]
    return "\n".join(rows[-lines:])


def first_line(text, default=""):
    for row in (text or "").splitlines():
        row = row.strip()
        if row.startswith(("error", "Error", "CommandError")) or "rror:" in row:
            return row[:300]
    rows = [r.strip() for r in (text or "").splitlines() if r.strip()]
    return rows[-1][:300] if rows else default


# ---------------------------------------------------------------- sources and virtualenvs


def find_python(version):
    """An interpreter of the wanted minor version: pyenv's, else pythonX.Y on PATH."""
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    versions = Path(pyenv_root) / "versions"
    if versions.is_dir():
        found = sorted(
            (p for p in versions.iterdir() if p.name.startswith(version + ".") and (p / "bin" / "python").exists()),
            key=lambda p: [int(x) if x.isdigit() else 0 for x in p.name.split(".")],
        )
        if found:
            return str(found[-1] / "bin" / "python")
    exe = shutil.which("python" + version)
    if exe:
        return exe
    raise SystemExit("no Python %s found (pyenv install %s, or put python%s on PATH)" % (version, version, version))


def get_source(project, sources_dir, work):
    """The folder holding manage.py for this project, checking it out first if needed."""
    name = project["name"]
    if project.get("source") == "pip":
        # the project is its release installed from PyPI into the virtualenv (pinned by version
        # and hash); only a manage.py of ours is needed beside it
        proj_dir = work / "project"
        proj_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECTS / name / "manage.py", proj_dir / "manage.py")
        return proj_dir
    checkout = sources_dir / name
    if not checkout.exists():
        log("[%s] cloning %s at %s (needs network access to the git host)" % (name, project["git"], project["commit"]))
        checkout.parent.mkdir(parents=True, exist_ok=True)
        code, out, err, _ = run(["git", "clone", "--quiet", "--no-checkout", project["git"], checkout])
        if code != 0:
            raise RuntimeError("git clone failed: %s" % first_line(err))
        code, out, err, _ = run(["git", "-C", checkout, "checkout", "--quiet", project["commit"]])
        if code != 0:
            raise RuntimeError("git checkout %s failed: %s" % (project["commit"], first_line(err)))
    head = checkout / ".git"
    if head.exists():
        code, out, _, _ = run(["git", "-C", checkout, "rev-parse", "HEAD"])
        if code == 0 and out.strip() != project["commit"]:
            raise RuntimeError("%s is at %s, the corpus pins %s" % (checkout, out.strip()[:12], project["commit"][:12]))
    return checkout / project.get("project_dir", ".")


def requirement_name(line):
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return m.group(1).lower().replace("_", "-").replace(".", "-") if m else None


def read_requirements(path, exclude, seen=None):
    seen = seen or set()
    path = path.resolve()
    if path.name == "pyproject.toml":
        # [project] dependencies of the checkout (the project itself is not installed: its own
        # pins, django-compressor's above all, must give way to the peer's version)
        with open(path, "rb") as f:
            deps = tomllib.load(f).get("project", {}).get("dependencies", [])
        return [d for d in deps if requirement_name(d) not in exclude]
    if path.name == "setup.cfg":
        import configparser

        cfg = configparser.ConfigParser()
        cfg.read(path)
        deps = [d.strip() for d in cfg.get("options", "install_requires", fallback="").splitlines() if d.strip()]
        return [d for d in deps if requirement_name(d) not in exclude]
    if path.name == "setup.py":
        # the literal install_requires list of a setup.py
        deps = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "install_requires":
                deps = ast.literal_eval(node.value)
        return [d for d in deps if requirement_name(d) not in exclude]
    if path in seen:
        return []
    seen.add(path)
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            lines += read_requirements(path.parent / line.split(None, 1)[1], exclude, seen)
            continue
        if line.startswith(("-c ", "--constraint ", "-e ", "--hash", "-i ", "--index-url")):
            continue
        name = requirement_name(line)
        if name in exclude:
            continue
        lines.append(line)
    return lines


DEPS_OF = """
import json, sys
from importlib.metadata import requires
from pip._vendor.packaging.requirements import Requirement
out = []
for name in json.loads(sys.argv[1]):
    for spec in requires(name) or []:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        out.append(str(req).split(";")[0].strip())
print(json.dumps(out))
"""


def ensure_venv(project, checkout_root, work, compressor, python_override=None):
    """compat/.work/<name>/venv-<compressor>, reused while its requirements are unchanged."""
    venv = work / ("venv-" + compressor)
    exclude = {requirement_name(x) for x in project.get("exclude", [])} | {"django-compressor"}
    reqs = []
    for rel in project.get("requirements_files", []):
        reqs += read_requirements(checkout_root / rel, exclude)
    reqs += project.get("requirements", [])
    reqs.append(COMPRESSOR_PINS[compressor])
    python = python_override or find_python(project.get("python", "3.11"))
    text = "\n".join(reqs) + "\n"
    stamp = hashlib.sha256((python + "\n" + text + json.dumps(project.get("requirements_nodeps", []))).encode()).hexdigest()
    stamp_file = venv / ".compat-stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return venv
    python_file = venv / ".compat-python"
    if venv.exists() and python_file.exists() and python_file.read_text() == python:
        # same interpreter: the changed requirements are installed over the existing ones
        log("[%s] updating %s" % (project["name"], venv))
    else:
        if venv.exists():
            shutil.rmtree(venv)
        log("[%s] creating %s (%s)" % (project["name"], venv, python))
        code, out, err, _ = run([python, "-m", "venv", venv])
        if code != 0:
            raise RuntimeError("venv failed: %s" % first_line(err))
        python_file.write_text(python)
    req_file = work / ("requirements-" + compressor + ".txt")
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    nodeps = project.get("requirements_nodeps", [])
    if nodeps:
        # packages whose own pins (django-compressor's above all) must give way to the peer's
        # version: installed without dependencies, then their dependencies minus the excluded
        nodeps_file = work / ("requirements-nodeps-" + compressor + ".txt")
        nodeps_file.write_text("\n".join(nodeps) + "\n")
        code, out, err, _ = run(pip + ["--no-deps", "-r", nodeps_file], timeout=3600)
        if code != 0:
            raise RuntimeError("pip install --no-deps failed:\n%s" % tail(err, 25))
        names = [requirement_name(x) for x in nodeps]
        code, out, err, _ = run([venv / "bin" / "python", "-c", DEPS_OF, json.dumps(names)])
        if code != 0:
            raise RuntimeError("could not read dependencies: %s" % tail(err, 8))
        reqs = [r for r in json.loads(out) if requirement_name(r) not in exclude] + reqs
        text = "\n".join(reqs) + "\n"
    req_file.write_text(text)
    code, out, err, secs = run(pip + ["-r", req_file], timeout=3600)
    if code != 0:
        raise RuntimeError("pip install failed:\n%s" % tail(err, 25))
    log("[%s] installed in %.0f s" % (project["name"], secs))
    stamp_file.write_text(stamp)
    return venv


def run_setup_commands(project, checkout_root, venv, work):
    """The corpus's `setup` shell commands (npm installs, a stylesheet build), once per checkout."""
    commands = project.get("setup", [])
    if not commands:
        return
    stamp = hashlib.sha256(json.dumps(commands).encode()).hexdigest()
    stamp_file = checkout_root / ".compat-setup-stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    env = dict(os.environ)
    env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(venv)
    for command in commands:
        log("[%s] setup: %s" % (project["name"], command))
        code, out, err, _ = run(["bash", "-c", command.replace("{compat}", str(HERE))], cwd=checkout_root, env=env)
        if code != 0:
            raise RuntimeError("setup command %r failed (exit %d):\n%s" % (command, code, tail(err or out, 12)))
    stamp_file.write_text(stamp)


def project_env(project, venv, proj_dir, static_root, scratch):
    env = dict(os.environ)
    for var in ("PYTHONHOME", "DJANGO_SETTINGS_MODULE", "PYTHONPATH"):
        env.pop(var, None)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    extra = [str((proj_dir / p).resolve()) for p in project.get("pythonpath", [])]
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECTS / project["name"]), str(PROJECTS), str(proj_dir)] + extra)
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS_SHIM
    env["COMPAT_STATIC_ROOT"] = str(static_root)
    env["COMPAT_SCRATCH"] = str(scratch)
    env["NO_COLOR"] = "1"
    engines = project.get("engines", [])
    if engines:
        if len(engines) != 1:
            raise RuntimeError("one engine per project entry")
        env["STAPLER_ENGINE"] = engines[0]
    for k, v in project.get("env", {}).items():
        env[k] = str(v)
    return env


# ---------------------------------------------------------------- reading outputs


def load_manifest(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


OUT_REF = re.compile(r"""(?:src|href)\s*=\s*["']?%s([^"'\s>]+)""" % re.escape(PLACEHOLDER))
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)
INLINE_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)


def outputs_of(value, root, kind):
    """[(label, text or None)] for every output a manifest value names or holds inline."""
    outs = []
    for rel in OUT_REF.findall(value):
        rel = rel.split("?")[0].split("#")[0]
        path = Path(root) / rel
        try:
            outs.append((rel, path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            outs.append((rel, None))
    pattern = INLINE_SCRIPT if kind == "js" else INLINE_STYLE
    for i, text in enumerate(pattern.findall(value)):
        if text.strip():
            outs.append(("inline#%d" % i, text))
    return outs


def kind_of(value):
    if re.search(r"<script", value, re.I):
        return "js"
    return "css"


class NodeCheck:
    """`node --check` once per distinct text."""

    def __init__(self, scratch):
        self.scratch = Path(scratch)
        self.cache = {}
        self.node = shutil.which("node")

    def ok(self, text):
        if self.node is None or text is None:
            return None
        digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
        if digest not in self.cache:
            path = self.scratch / ("check-" + digest[:16] + ".js")
            path.write_text(text, encoding="utf-8", errors="replace")
            code, out, err, _ = run([self.node, "--check", path], timeout=120)
            self.cache[digest] = (code == 0, first_line(err))
            path.unlink()
        return self.cache[digest]


CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
CSS_STRING = re.compile(r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')""")


def css_selectors(text):
    """Distinct selectors of style rules, normalized so a minifier's spelling does not count."""
    if text is None:
        return set()
    text = CSS_COMMENT.sub("", text).replace("\ufeff", "")
    # rules without declarations (a minifier drops them) match nothing worth counting
    while True:
        stripped = re.sub(r"(^|[{};])[^{};@]*\{\s*\}", r"\1", text)
        if stripped == text:
            break
        text = stripped
    # keep strings (attribute selectors) but hide their braces from the scan
    text = CSS_STRING.sub(lambda m: m.group(0).replace("{", "\\7b ").replace("}", "\\7d ").replace(",", "\\2c "), text)
    found = set()
    stack = []  # for each open brace: "rule", "group" (an at-rule holding rules) or "decls"
    i = 0
    start = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "{":
            prelude = text[start:i].strip()
            if prelude.startswith("@"):
                word = prelude[1:].split(None, 1)[0].split("(")[0].lower() if len(prelude) > 1 else ""
                group = word in ("media", "supports", "document", "-moz-document", "layer", "container", "scope", "starting-style")
                stack.append("group" if group else "decls")
            elif stack and stack[-1] == "decls":
                stack.append("rule")  # keyframe selectors, @page and font-face blocks: not counted
            else:
                # style rules, nested ones (CSS nesting) included
                for sel in prelude.split(","):
                    norm = normalize_selector(sel)
                    if norm:
                        found.add(norm)
                stack.append("rule")
            start = i + 1
        elif c == "}":
            if stack:
                stack.pop()
            start = i + 1
        elif c == ";":
            start = i + 1
        i += 1
    return found


NTH_SAME = {"2n+1": "odd", "2n": "even", "2n+0": "even", "+1": "1", "0n+1": "1"}


def normalize_selector(sel):
    """One spelling for selectors a minifier may write differently but that match the same."""
    sel = sel.strip().lower()
    if not sel or sel[0].isdigit() or sel in ("from", "to"):
        return ""
    # in a nested rule, "& .a" is ".a" and "& > .a" is "> .a" spelled out
    sel = re.sub(r"^&\s*(?=[>+~])|^&\s+", "", sel)
    sel = re.sub(r"\\([^0-9a-f\n])", r"\1", sel)  # escapes of characters that need none
    sel = re.sub(r"::(before|after|first-line|first-letter)", r":\1", sel)
    sel = re.sub(r"""=\s*["']([^"']*)["']""", r"=\1", sel)
    # spaces around combinators go; a descendant combinator stays one space
    sel = re.sub(r"\s*([>+~,()])\s*", r"\1", re.sub(r"\s+", " ", sel)).strip()
    sel = re.sub(r"\(([^()]*)\)", lambda m: "(" + NTH_SAME.get(m.group(1), m.group(1)) + ")", sel)
    for nth, plain in (("nth-child(1)", "first-child"), ("nth-last-child(1)", "last-child"), ("nth-of-type(1)", "first-of-type"), ("nth-last-of-type(1)", "last-of-type")):
        sel = sel.replace(":" + nth, ":" + plain)
    sel = re.sub(r"(^|[ >+~(,])\*(?=[:.#\[])", r"\1", sel)  # *:after is :after
    return sel


# ---------------------------------------------------------------- one project


def count_compress_templates(text):
    """The N of django-compressor's closing "Compressed K block(s) from N template(s)" line."""
    m = re.search(r"from (\d+) template", text or "")
    return int(m.group(1)) if m else None


def copy_root(src, dst):
    """A copy of the collected static root made of hard links: both tools write new files (a
    temporary file renamed, or a storage's save) and never change a collected file in place."""
    if dst.exists():
        shutil.rmtree(dst)

    def link(a, b):
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, symlinks=True, copy_function=link)


def run_project(project, args, failures):
    name = project["name"]
    work = args.work / name
    work.mkdir(parents=True, exist_ok=True)
    row = {"project": name, "templates": "-", "keys_peer": "-", "dropin": "-", "recorded": "-", "native": "-", "time_peer": "-", "time_stapler": "-"}

    def fail(where, what):
        # one line each: a traceback's last line says enough, the logs under compat/.work keep the rest
        rows = [r for r in str(what).splitlines() if r.strip()]
        if len(rows) > 1 and rows[1].startswith("Traceback"):
            rows = rows[:1]
        failures.append("%s | %s | %s" % (name, where, " / ".join(r.strip() for r in rows)))

    try:
        proj_dir = get_source(project, args.sources, work)
        checkout_root = proj_dir if project.get("source") == "pip" else args.sources / name
        venv = ensure_venv(project, checkout_root, work, args.compressor, args.python)
        run_setup_commands(project, checkout_root, venv, work)
        if not (proj_dir / "manage.py").exists():
            raise RuntimeError("no manage.py in %s" % proj_dir)
    except (RuntimeError, SystemExit) as exc:
        fail("setup", str(exc))
        row["dropin"] = "setup failed"
        return row
    if args.setup_only:
        row["dropin"] = "set up"
        return row
    py = venv / "bin" / "python"
    scratch = Path(tempfile.mkdtemp(prefix="compat-%s-" % name, dir=args.scratch))
    row["scratch"] = scratch  # removed by main() unless --keep, whatever happens here
    roots = {k: scratch / k for k in ("collected", "peer", "dropin", "native")}

    def env_for(root):
        return project_env(project, venv, proj_dir, root, scratch / "db")

    # settings as the peer resolves them
    info_path = scratch / "info.json"
    code, out, err, _ = run([py, HELPER, "info", info_path], cwd=proj_dir, env=env_for(roots["peer"]))
    if code != 0:
        fail("settings", "the compat settings do not load: %s" % tail(err, 6))
        row["dropin"] = "settings failed"
        return row
    info = json.loads(info_path.read_text())
    row["compressor"] = info["compressor"]
    manifest_rel = Path(info.get("manifest_rel") or Path(info["output_dir"]) / info["manifest"])
    if manifest_rel.is_absolute() or manifest_rel.parts[:1] == ("..",):
        fail("settings", "the offline manifest is written outside the static root (%s)" % manifest_rel)
        return row

    # collectstatic once, then a copy per run
    log("[%s] collectstatic" % name)
    code, out, err, secs = run([py, "manage.py", "collectstatic", "--noinput", "-v0", "--settings", SETTINGS_SHIM], cwd=proj_dir, env=env_for(roots["collected"]))
    if code != 0:
        fail("collectstatic", "exit %d: %s" % (code, tail(err, 8)))
        row["dropin"] = "collectstatic failed"
        return row
    for k in ("peer", "dropin", "native"):
        copy_root(roots["collected"], roots[k])
    if project.get("migrate"):
        # settings or template globals that read the database need its tables (sqlite, scratch)
        log("[%s] migrate" % name)
        code, out, err, secs = run([py, "manage.py", "migrate", "--noinput", "-v0", "--settings", SETTINGS_SHIM], cwd=proj_dir, env=env_for(roots["collected"]))
        if code != 0:
            fail("migrate", "exit %d: %s" % (code, tail(err, 8)))
            row["dropin"] = "migrate failed"
            return row

    # the peer
    log("[%s] manage.py compress --force" % name)
    peer_cmd = [py, "manage.py", "compress", "--force", "--settings", SETTINGS_SHIM]
    for engine in project.get("engines", []):
        peer_cmd += ["--engine", engine]
    code, out, err, secs = run(peer_cmd, cwd=proj_dir, env=env_for(roots["peer"]))
    row["time_peer"] = "%.1f s" % secs
    (work / "peer.log").write_text(out + "\n--- stderr ---\n" + err)
    peer_manifest = load_manifest(roots["peer"] / manifest_rel)
    # compressor's "from N template(s)" counts compress tags met across templates and contexts
    row["blocks_seen"] = count_compress_templates(out + err)
    peer_ok = code == 0 and peer_manifest is not None
    if not peer_ok:
        row["keys_peer"] = "exit %d" % code
        fail("peer", "manage.py compress failed (exit %d): %s" % (code, first_line(err or out)))
        log("[%s] the peer failed (exit %d): %s" % (name, code, first_line(err)))
    else:
        row["keys_peer"] = str(len(peer_manifest)) + (" of %d seen" % row["blocks_seen"] if row.get("blocks_seen") else "")
    shutil.copy(roots["peer"] / manifest_rel, work / "peer-manifest.json") if peer_ok else None

    if args.peer_only:
        return row

    # stapler, drop-in: beside manage.py, no stapler.toml
    for leftover in ("stapler.toml",):
        if (proj_dir / leftover).exists():
            (proj_dir / leftover).unlink()
    log("[%s] stapler compress --offline (drop-in)" % name)
    cmd = [args.stapler, "compress", "--offline", "--format", "json", "--no-cache", "--python", py, "--settings", SETTINGS_SHIM]
    code, out, err, secs = run(cmd, cwd=proj_dir, env=env_for(roots["dropin"]))
    row["time_stapler"] = "%.1f s" % secs
    (work / "dropin.json").write_text(out)
    (work / "dropin.stderr").write_text(err)
    report = None
    try:
        report = json.loads(out)
    except ValueError:
        pass
    drop_manifest = load_manifest(roots["dropin"] / manifest_rel)
    if code != 0 or drop_manifest is None:
        reason = ""
        if report and report.get("errors"):
            e = report["errors"][0]
            reason = "%s:%s: %s" % (e.get("file"), e.get("line"), e.get("message"))
        else:
            reason = first_line(err or out)
        if peer_ok:
            fail("drop-in", "stapler failed where django-compressor succeeded (exit %d): %s" % (code, reason))
        row["dropin"] = "exit %d" % code
    if report and isinstance(report.get("build"), dict):
        t = report["build"].get("templates")
        if isinstance(t, dict):
            row["templates"] = t.get("scanned", "-")
    if peer_ok and drop_manifest is not None:
        row["dropin"] = compare_dropin(project, info, roots, peer_manifest, drop_manifest, report, py, proj_dir, env_for, scratch, fail)
    if code == 0 and drop_manifest is not None:
        row["recorded"] = run_recorded(cmd, proj_dir, env_for(roots["dropin"]), roots["dropin"] / manifest_rel, drop_manifest, work, fail)

    # stapler, native: stapler init writes stapler.toml with render = "native"
    if args.skip_native:
        row["native"] = "skipped"
    else:
        row["native"] = run_native(project, args, proj_dir, env_for(roots["native"]), roots["native"] / manifest_rel, peer_manifest if peer_ok else None, work, fail)

    return row


def run_recorded(cmd, proj_dir, env, manifest_path, expected, work, fail):
    """The drop-in build twice more, with a build cache: the second run takes Django's settings
    from the record the first left (unless they are never recorded), and both must write the
    manifest the build without a cache wrote."""
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = dict(env, STAPLER_CACHE_DIR=str(cache))
    cached = [part for part in cmd if part != "--no-cache"] + ["--force"]
    recorded, why = None, None
    for attempt in (1, 2):
        code, out, err, _ = run(cached, cwd=proj_dir, env=env)
        if code != 0:
            fail("recorded", "build %d with a cache failed (exit %d): %s" % (attempt, code, first_line(err or out)))
            return "exit %d" % code
        if load_manifest(manifest_path) != expected:
            fail("recorded", "build %d with a cache wrote another manifest than the build without one" % attempt)
            return "WRONG manifest"
        try:
            timings = json.loads(out)["build"]["timings"]
            recorded = timings.get("django_settings_recorded")
            why = timings.get("django_settings_asked_because")
        except (ValueError, KeyError, TypeError, AttributeError):
            recorded, why = None, None
    if recorded:
        return "same %d keys, settings from the record" % len(expected)
    return "same %d keys, settings asked again (%s)" % (len(expected), why or "no reason given")


def run_native(project, args, proj_dir, env, manifest_path, peer_manifest, work, fail):
    # stapler init writes the configuration (render = "native") outside the checkout, and the
    # build reads it with --config: nothing is left in the project's folder
    config = work / "native-stapler.toml"
    if config.exists():
        config.unlink()
    code, out, err, _ = run([args.stapler, "init", "--output", config, "--python", env["VIRTUAL_ENV"] + "/bin/python", "--settings", SETTINGS_SHIM], cwd=proj_dir, env=env)
    (work / "native-init.log").write_text(out + "\n--- stderr ---\n" + err)
    if code != 0:
        return "init exit %d: %s" % (code, first_line(err or out))
    text = config.read_text() if config.exists() else ""
    if not re.search(r'^\s*render\s*=\s*"native"', text, re.M):
        fail("native", "stapler init wrote no render = \"native\" (%s)" % (config if config.exists() else "no file"))
        return "no native config"
    code, out, err, secs = run([args.stapler, "compress", "--offline", "--format", "json", "--no-cache", "--config", config], cwd=proj_dir, env=env)
    (work / "native.json").write_text(out)
    (work / "native.stderr").write_text(err)
    if code != 0:
        reason = first_line(err or out)
        try:
            rep = json.loads(out)
            if rep.get("errors"):
                e = rep["errors"][0]
                reason = "%s:%s: %s" % (e.get("file"), e.get("line"), e.get("message"))
        except ValueError:
            pass
        return "exit %d (%s)" % (code, reason[:160])
    manifest = load_manifest(manifest_path)
    if manifest is None:
        fail("native", "exit 0 but no manifest at %s" % manifest_path)
        return "no manifest"
    if peer_manifest is None:
        return "%d keys (peer failed)" % len(manifest)
    missing = set(peer_manifest) - set(manifest)
    extra = set(manifest) - set(peer_manifest)
    if missing or extra:
        fail("native", "exit 0 with keys that differ from the peer's: %d missing, %d extra (native must refuse rather than write wrong keys)" % (len(missing), len(extra)))
        return "WRONG: -%d +%d" % (len(missing), len(extra))
    return "same %d keys (%.1f s)" % (len(manifest), secs)


def compare_dropin(project, info, roots, peer_manifest, drop_manifest, report, py, proj_dir, env_for, scratch, fail):
    summary = []
    # (a) keys
    missing = sorted(set(peer_manifest) - set(drop_manifest))
    extra = sorted(set(drop_manifest) - set(peer_manifest))
    parts_list = None
    if report and isinstance(report.get("build"), dict):
        parts_list = report["build"].get("parts")
    where = {}
    if isinstance(parts_list, list):
        for p in parts_list:
            where.setdefault(p.get("key"), "%s:%s" % (p.get("template"), p.get("line")))
    for k in missing:
        fail("keys", "key %s… is in the peer's manifest, not stapler's (%s)" % (k[:12], html_excerpt(peer_manifest[k])))
    for k in extra:
        fail("keys", "key %s… (%s) is in stapler's manifest, not the peer's" % (k[:12], where.get(k, "?")))
    summary.append("keys %s" % ("=" if not missing and not extra else "-%d +%d" % (len(missing), len(extra))))

    # (b) parts
    if not isinstance(parts_list, list):
        fail("parts", "stapler's --format json report has no build.parts: parts not compared")
        summary.append("parts n/a")
    else:
        summary.append(compare_parts(info, parts_list, py, proj_dir, env_for(roots["peer"]), scratch, fail))

    # (c) js parses and (d) css selectors
    node = NodeCheck(scratch)
    js_bad = 0
    js_checked = 0
    css_bad = 0
    css_checked = 0
    for key in sorted(set(peer_manifest) & set(drop_manifest)):
        kind = kind_of(peer_manifest[key])
        peer_outs = outputs_of(peer_manifest[key], info["compress_root"] if False else roots["peer"], kind)
        drop_outs = outputs_of(drop_manifest[key], roots["dropin"], kind)
        w = "%s (key %s)" % (where.get(key, "?"), key[:10])
        if kind == "js":
            peer_parse = [node.ok(t) for _, t in peer_outs]
            if any(r is None for r in peer_parse) or not all(r[0] for r in peer_parse):
                continue  # the peer's own output does not parse (or is missing): nothing to hold stapler to
            js_checked += 1
            for label, text in drop_outs:
                res = node.ok(text)
                if res is None:
                    js_bad += 1
                    fail(w, "JS output %s is missing" % label)
                elif not res[0]:
                    js_bad += 1
                    fail(w, "JS output %s does not parse (node --check: %s) where the peer's does" % (label, res[1]))
        else:
            peer_sel = set()
            for _, t in peer_outs:
                peer_sel |= css_selectors(t)
            drop_sel = set()
            for label, t in drop_outs:
                if t is None:
                    fail(w, "CSS output %s is missing" % label)
                drop_sel |= css_selectors(t)
            css_checked += 1
            lost = peer_sel - drop_sel
            added = drop_sel - peer_sel
            if lost or added:
                css_bad += 1
                what = []
                if lost:
                    what.append("%d of the peer's missing, e.g. %s" % (len(lost), ", ".join(sorted(lost)[:4])))
                if added:
                    what.append("%d the peer's output does not have, e.g. %s" % (len(added), ", ".join(sorted(added)[:4])))
                fail(w, "CSS has %d distinct selectors, the peer's %d (%s)" % (len(drop_sel), len(peer_sel), "; ".join(what)))
    summary.append("js %d/%d" % (js_checked - min(js_bad, js_checked), js_checked))
    summary.append("css %d/%d" % (css_checked - css_bad, css_checked))
    return ", ".join(summary)


def html_excerpt(value):
    value = re.sub(r"\s+", " ", value).replace(PLACEHOLDER, "")
    return value[:90]


def compare_parts(info, parts_list, py, proj_dir, env, scratch, fail):
    static_url = info["static_url"]
    blocks = {}
    where = {}
    for entry in parts_list:
        key = entry.get("key")
        place = "%s:%s" % (entry.get("template"), entry.get("line"))
        body = entry.get("body", "")
        if hashlib.sha256(body.replace(static_url, "").encode("utf-8")).hexdigest() != key and hashlib.sha256(body.encode("utf-8")).hexdigest() != key:
            fail(place, "build.parts body does not hash to its key %s…" % key[:12])
        if key in blocks:
            if [strip_part(p) for p in entry.get("parts", [])] != [strip_part(p) for p in blocks[key]["stapler"]]:
                fail(place, "stapler made different parts of the same key than at %s" % where[key])
            continue
        where[key] = place
        blocks[key] = {"kind": entry.get("kind"), "body": body, "stapler": entry.get("parts", [])}
    req = scratch / "split-in.json"
    res_path = scratch / "split-out.json"
    req.write_text(json.dumps({k: {"kind": v["kind"], "body": v["body"]} for k, v in blocks.items()}))
    code, out, err, _ = run([py, HELPER, "split", req, res_path], cwd=proj_dir, env=env)
    if code != 0:
        fail("parts", "django-compressor's split_contents could not be run: %s" % tail(err, 6))
        return "parts n/a"
    peer = json.loads(res_path.read_text())
    differing = 0
    unreadable = 0
    for key, block in blocks.items():
        place = where[key]
        p = peer.get(key)
        if not p or not p["ok"]:
            # the peer cannot read this block (a missing file): it would not build it either
            unreadable += 1
            continue
        diffs = diff_parts(p["parts"], block["stapler"])
        if diffs:
            differing += 1
            for d in diffs[:6]:
                fail(place, "parts: %s" % d)
            if len(diffs) > 6:
                fail(place, "parts: %d more differences" % (len(diffs) - 6))
    compared = len(blocks) - unreadable
    return "parts %d/%d" % (compared - differing, compared) + (" (%d the peer cannot read)" % unreadable if unreadable else "")


def strip_part(p):
    return (p.get("source"), p.get("path"), p.get("sha256"), json.dumps(p.get("attrs"), sort_keys=True))


def file_sha(path, cache={}):
    if path not in cache:
        try:
            with open(path, "rb") as f:
                cache[path] = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            cache[path] = None
    return cache[path]


def describe(part):
    if part.get("source") == "file":
        return "file " + (part.get("url_path") or part.get("path") or "?")
    return "inline <%s>" % (part.get("sha256") or "?")[:10]


def diff_parts(peer_parts, stapler_parts):
    diffs = []
    if len(peer_parts) != len(stapler_parts):
        diffs.append("%d parts, the peer's parser makes %d: peer [%s], stapler [%s]" % (
            len(stapler_parts), len(peer_parts),
            "; ".join(describe(p) for p in peer_parts), "; ".join(describe(p) for p in stapler_parts)))
    for i, (a, b) in enumerate(zip(peer_parts, stapler_parts)):
        if a["source"] != b.get("source"):
            diffs.append("part %d is %s for the peer, %s for stapler" % (i + 1, describe(a), describe(b)))
            continue
        if a["source"] == "file":
            bpath = b.get("path")
            bsha = file_sha(bpath) if bpath else None
            if bsha is None:
                diffs.append("part %d: stapler names %s, which cannot be read" % (i + 1, bpath))
            elif bsha != a["sha256"]:
                diffs.append("part %d: different file: peer %s (%s), stapler %s" % (i + 1, a.get("url_path"), a["path"], bpath))
        else:
            if b.get("sha256") != a["sha256"]:
                diffs.append("part %d: inline text differs (sha256 peer %s…, stapler %s…)" % (i + 1, a["sha256"][:10], str(b.get("sha256"))[:10]))
        aa = {k: v for k, v in a.get("attrs", {}).items() if k in ATTRS_THAT_MATTER}
        ba = {str(k).lower(): v for k, v in (b.get("attrs") or {}).items()}
        ba = {k: v for k, v in ba.items() if k in ATTRS_THAT_MATTER}
        if aa != ba:
            diffs.append("part %d (%s): attributes peer %s, stapler %s" % (i + 1, describe(a), json.dumps(aa, sort_keys=True), json.dumps(ba, sort_keys=True)))
    return diffs


# ---------------------------------------------------------------- main


def table(rows):
    head = ["project", "templates scanned", "keys peer", "drop-in keys/parts/js/css", "drop-in again, with a cache", "native", "time peer", "time stapler"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    for r in rows:
        tmpl = str(r["templates"])
        cells = [r["project"], tmpl, r["keys_peer"], r["dropin"], r["recorded"], r["native"], r["time_peer"], r["time_stapler"]]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--project", action="append", help="only this project (repeatable)")
    ap.add_argument("--compressor", choices=sorted(COMPRESSOR_PINS), default="4.7", help="django-compressor version of the peer (default 4.7)")
    ap.add_argument("--sources", type=Path, default=HERE / ".work" / "sources", help="folder with each project checked out as DIR/<name> (default compat/.work/sources; missing ones are git-cloned)")
    ap.add_argument("--stapler", type=Path, default=REPO / "target" / "debug" / "stapler", help="the stapler binary (default target/debug/stapler)")
    ap.add_argument("--work", type=Path, default=HERE / ".work", help="virtualenvs and logs (default compat/.work)")
    ap.add_argument("--scratch", type=Path, default=None, help="where the temporary static roots go (default the system's temp folder)")
    ap.add_argument("--python", default=None, help="use this interpreter for every virtualenv instead of the corpus's version")
    ap.add_argument("--setup-only", action="store_true", help="check out sources and build virtualenvs, nothing else")
    ap.add_argument("--peer-only", action="store_true", help="run only collectstatic and the peer (checks a project's setup)")
    ap.add_argument("--skip-native", action="store_true", help="do not run the native mode")
    ap.add_argument("--keep", action="store_true", help="keep the temporary static roots")
    ap.add_argument("--results", type=Path, default=HERE / "RESULTS.md", help="where the table and failures are written (default compat/RESULTS.md)")
    args = ap.parse_args()
    args.sources = args.sources.resolve()
    args.work = args.work.resolve()
    args.stapler = args.stapler.resolve()
    if args.scratch:
        args.scratch.mkdir(parents=True, exist_ok=True)
    with open(HERE / "corpus.toml", "rb") as f:
        corpus = tomllib.load(f)["project"]
    if args.project:
        unknown = set(args.project) - {p["name"] for p in corpus}
        if unknown:
            raise SystemExit("not in compat/corpus.toml: %s" % ", ".join(sorted(unknown)))
        corpus = [p for p in corpus if p["name"] in args.project]
    if not (args.setup_only or args.peer_only) and not args.stapler.exists():
        raise SystemExit("no stapler binary at %s (--stapler PATH)" % args.stapler)
    stapler_version = ""
    if args.stapler.exists():
        stapler_version = run([args.stapler, "--version"])[1].strip()
    rows = []
    failures = []
    for project in corpus:
        log("== %s" % project["name"])
        before = len(failures)
        try:
            rows.append(run_project(project, args, failures))
        except Exception as exc:  # one project's trouble must not stop the others
            import traceback

            failures.append("%s | harness | %s: %s" % (project["name"], type(exc).__name__, exc))
            log(traceback.format_exc())
            rows.append({"project": project["name"], "templates": "-", "keys_peer": "-", "dropin": "harness error", "recorded": "-", "native": "-", "time_peer": "-", "time_stapler": "-"})
        scratch = rows[-1].pop("scratch", None)
        if scratch is not None and not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        log("[%s] %s; %d failure(s)" % (project["name"], rows[-1]["dropin"], len(failures) - before))
    out = [table(rows), ""]
    if failures:
        out.append("%d failure(s):" % len(failures))
        out.append("")
        out += ["- " + f for f in failures]
    else:
        out.append("no failures")
    text = "\n".join(out)
    print(text)
    if not args.setup_only:
        header = "# Peer-differential results\n\n`python3 compat/run.py %s` with %s, django-compressor %s as the peer, on %s.\n\n" % (
            " ".join(sys.argv[1:]), stapler_version or "stapler", args.compressor, time.strftime("%Y-%m-%d"))
        args.results.write_text(header + text + "\n")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
