"""HTML fragments (feed summaries, API bodies) to plain text for the models and the index.

Hand-written on the standard library's ``html.parser`` because the job is small and lossy on
purpose: keep the words, turn block elements into line breaks, drop scripts, styles and comments.
A sanitiser (bleach) keeps *safe HTML*, which is not what we need, and a full DOM library
(BeautifulSoup, lxml) would be a heavy dependency for a few dozen lines.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

#: Elements whose start or end is a line break in the text a reader sees.
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tr", "ul",
})
#: Elements whose content is never text for a reader.
_SKIP = frozenset({"script", "style", "noscript", "template", "head", "iframe", "object", "svg"})
_CELL = frozenset({"td", "th"})
_LOOKS_LIKE_HTML = re.compile(r"<[A-Za-z!/][^>]*>|&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_NEWLINES = re.compile(r"\s*\n\s*")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        elif tag in _CELL:
            self.parts.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._skip_depth:
                self.parts.append(f" {alt} ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP:  # <script/> has no content to skip
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def looks_like_html(text: str) -> bool:
    return bool(_LOOKS_LIKE_HTML.search(text))


def html_to_text(fragment: str | None) -> str:
    """Readable text of an HTML fragment: tags gone, entities decoded, blocks on their own lines.

    Plain text passes through (only whitespace is tidied), so callers need not know which they have.
    """
    if not fragment:
        return ""
    if looks_like_html(fragment):
        parser = _TextCollector()
        parser.feed(fragment)
        parser.close()
        text = "".join(parser.parts)
        text = unescape(text)  # entities the parser left alone (double-escaped feeds: &amp;lt;)
    else:
        text = fragment
    text = _SPACES.sub(" ", text)
    text = _NEWLINES.sub("\n", text)
    return text.strip()
