"""Read what a report page shows: elements with their attributes, from HTML or a dumped DOM."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)


VOID = {"meta", "br", "input", "img", "link", "hr", "col", "source", "wbr"}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack[1:]:
            element.text += data


def parse(page: str) -> Element:
    builder = _Builder()
    builder.feed(page)
    builder.close()
    return builder.root


def walk(element: Element) -> list[Element]:
    found = [element]
    for child in element.children:
        found += walk(child)
    return found


def by_id(root: Element, element_id: str) -> Element:
    [element] = [e for e in walk(root) if e.attrs.get("id") == element_id]
    return element


def derivation_rows(root: Element) -> dict[str, Element]:
    """The rows of the derivations table, by derivation name."""
    table = by_id(root, "derivations")
    return {
        row.attrs["data-name"]: row
        for row in walk(table)
        if row.tag == "tr" and "data-name" in row.attrs
    }


def external_references(root: Element) -> list[str]:
    """URLs a browser would load from the network (links to click are not loads)."""
    loads = []
    for element in walk(root):
        for name in ("src", "srcset", "data", "poster"):
            value = element.attrs.get(name, "")
            if "//" in value.split("?", 1)[0][:8] or value.startswith(("http:", "https:")):
                loads.append(value)
        if element.tag == "link" and element.attrs.get("href", "").startswith(("http", "//")):
            loads.append(element.attrs["href"])
        if element.tag == "style" and "url(http" in element.text.replace(" ", ""):
            loads.append("url() in a style sheet")
    return loads
