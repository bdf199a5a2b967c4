"""Writes an empty source map for every sourceMappingURL under DIR whose map is missing.

Some checkouts vendor minified files whose last line names a .map the repository does not hold;
Django's manifest storages refuse those in collectstatic. The maps are never read by the
comparison.  Usage: python fill_source_maps.py DIR
"""
import os
import re
import sys

PATTERN = re.compile(rb"[#@]\s*sourceMappingURL=([^\s*'\"]+)")
EMPTY = b'{"version":3,"sources":[],"names":[],"mappings":""}\n'

root = sys.argv[1]
for folder, _, files in os.walk(root):
    for name in files:
        if not name.endswith((".js", ".css")):
            continue
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            tail = f.read()[-400:]
        for ref in PATTERN.findall(tail):
            ref = ref.decode("utf-8", "replace")
            if ref.startswith(("data:", "http:", "https:", "/")):
                continue
            target = os.path.abspath(os.path.join(folder, ref.split("?")[0]))
            if not os.path.exists(target) and target.startswith(os.path.abspath(root)):
                with open(target, "wb") as out:
                    out.write(EMPTY)
                print("wrote", os.path.relpath(target, root))
