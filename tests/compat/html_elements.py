"""The <script>, <style> and <link> elements django-compressor's default parser finds, for the
HTML reader's differential test: one JSON string of HTML per line on stdin, one JSON answer per
line on stdout, [[tag, src or href, text], ...] or "error" where the parser raises.

It collects elements with django-compressor's own handler logic (`DefaultHtmlParser`) on
Python's `html.parser`, without needing Django.
"""

import json
import sys
from html.parser import HTMLParser


class Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.found = []
        self.current = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self.found.append([tag, attrs.get("src"), ""])
            self.current = tag
        elif tag == "link":
            self.found.append([tag, attrs.get("href"), None])

    def handle_endtag(self, tag):
        if self.current and self.current == tag.lower():
            self.current = None

    def handle_data(self, data):
        if self.current:
            for element in reversed(self.found):
                if element[0] == self.current:
                    element[2] = data
                    break


for line in sys.stdin:
    parser = Elements()
    try:
        parser.feed(json.loads(line))
        parser.close()
        print(json.dumps(parser.found))
    except Exception:
        print(json.dumps("error"))
