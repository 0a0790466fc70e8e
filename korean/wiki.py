"""Stream Korean Wikipedia articles from the two forms users have.

(a) A MediaWiki XML dump (``*.xml`` / ``*.xml.bz2``), parsed page by page with ``iterparse``
    and cleared as it goes (memory stays flat), markup stripped by mwparserfromhell,
    redirects and non-article namespaces skipped.
(b) A WikiExtractor output tree (``wiki_NN`` plain or ``.bz2``; ``<doc>`` blocks or JSON lines).

Both yield ``WikiDoc`` and count what they skip in a ``Counter`` the caller passes in.
"""

from __future__ import annotations

import bz2
import contextlib
import html
import io
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import mwparserfromhell

from .errors import CorpusFormatError

_EXTRACTOR_FILE = re.compile(r"^wiki_\d+(\.bz2)?$")
_DOC_OPEN = re.compile(r'^<doc\s+id="([^"]*)"(?:\s+url="[^"]*")?\s+title="([^"]*)"\s*>\s*$')
# Links into these namespaces carry no running text (images, categories, interwiki files).
_MEDIA_NAMESPACES = {"file", "image", "category", "파일", "그림", "분류", "media", "미디어"}
# Tags whose content is not article prose (footnotes, formulas, galleries).
_DROP_TAGS = {"ref", "references", "math", "gallery", "timeline", "score", "syntaxhighlight"}


@dataclass(frozen=True)
class WikiDoc:
    id: str
    title: str
    text: str


def strip_wikitext(wikitext: str) -> str:
    """Wikitext -> plain text with mwparserfromhell (templates, refs, tags and media links go)."""
    code = mwparserfromhell.parse(wikitext)
    drop = [t for t in code.filter_tags() if str(t.tag).strip().lower() in _DROP_TAGS]
    for link in code.filter_wikilinks():
        title = str(link.title)
        if ":" in title and title.split(":", 1)[0].strip().lower() in _MEDIA_NAMESPACES:
            drop.append(link)
    for node in drop:
        with contextlib.suppress(ValueError):  # already removed with a parent node
            code.remove(node)
    text = code.strip_code(normalize=True, collapse=True, keep_template_params=False)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for child in elem:
        if _local(child.tag) == name:
            return child
    return None


def iter_xml_dump(stream: BinaryIO, name: str, skipped: Counter) -> Iterator[WikiDoc]:
    """Articles of a MediaWiki export; ``stream`` is the (already decompressed) XML."""
    root = None
    pages = 0
    try:
        for event, elem in ET.iterparse(stream, events=("start", "end")):
            if root is None:
                root = elem
                continue
            if event != "end" or _local(elem.tag) != "page":
                continue
            pages += 1
            ns = _child(elem, "ns")
            revision = _child(elem, "revision")
            text_el = _child(revision, "text") if revision is not None else None
            if ns is not None and (ns.text or "0").strip() != "0":
                skipped["non_article_namespace"] += 1
            elif _child(elem, "redirect") is not None:
                skipped["redirect"] += 1
            else:
                text = strip_wikitext(text_el.text or "") if text_el is not None else ""
                if text:
                    page_id = _child(elem, "id")
                    title = _child(elem, "title")
                    yield WikiDoc(
                        id=(page_id.text or "").strip() if page_id is not None else str(pages),
                        title=(title.text or "").strip() if title is not None else "",
                        text=text,
                    )
                else:
                    skipped["empty_text"] += 1
            root.clear()  # drop finished pages so memory stays flat
    except ET.ParseError as exc:
        line, col = exc.position
        raise CorpusFormatError(
            f"{name}: malformed XML at line {line}, column {col} (after {pages} pages): {exc}"
        ) from exc
    except (OSError, EOFError) as exc:
        raise CorpusFormatError(
            f"{name}: corrupt or truncated compressed data after {pages} pages: {exc}"
        ) from exc


def iter_extractor_file(stream: BinaryIO, name: str, skipped: Counter) -> Iterator[WikiDoc]:
    """Articles of one WikiExtractor output file (``<doc>`` blocks or ``--json`` lines)."""
    text_stream = io.TextIOWrapper(stream, encoding="utf-8", errors="strict")
    current: tuple[str, str] | None = None
    body: list[str] = []
    lineno = 0
    try:
        for lineno, line in enumerate(text_stream, start=1):
            line = line.rstrip("\n")
            if current is None and line.startswith("{"):
                try:
                    obj = json.loads(line)
                    doc = WikiDoc(str(obj["id"]), obj.get("title", ""), obj["text"].strip())
                except (ValueError, KeyError, AttributeError) as exc:
                    raise CorpusFormatError(f"{name}, line {lineno}: bad JSON line: {exc}") from exc
                if doc.text:
                    yield doc
                else:
                    skipped["empty_text"] += 1
                continue
            if line.startswith("<doc"):
                match = _DOC_OPEN.match(line)
                if current is not None or not match:
                    raise CorpusFormatError(f"{name}, line {lineno}: unexpected <doc> header")
                current, body = (match.group(1), html.unescape(match.group(2))), []
            elif line == "</doc>":
                if current is None:
                    raise CorpusFormatError(f"{name}, line {lineno}: </doc> without <doc>")
                if body and body[0].strip() == current[1]:
                    body = body[1:]  # WikiExtractor repeats the title as the first line
                text = "\n".join(s for s in (b.strip() for b in body) if s)
                if text:
                    yield WikiDoc(current[0], current[1], text)
                else:
                    skipped["empty_text"] += 1
                current = None
            elif current is not None:
                body.append(line)
            elif line.strip():
                raise CorpusFormatError(f"{name}, line {lineno}: text outside a <doc> block")
    except UnicodeDecodeError as exc:
        raise CorpusFormatError(f"{name}, after line {lineno}: not UTF-8: {exc}") from exc
    except (OSError, EOFError) as exc:
        raise CorpusFormatError(
            f"{name}, after line {lineno}: corrupt or truncated compressed data: {exc}"
        ) from exc
    if current is not None:
        raise CorpusFormatError(f"{name}: ends inside <doc id={current[0]}> (truncated file?)")


def open_maybe_bz2(path: Path) -> BinaryIO:
    return bz2.open(path, "rb") if path.suffix == ".bz2" else open(path, "rb")


def extractor_files(root: Path) -> list[Path]:
    """WikiExtractor output files under ``root`` in corpus order (AA/wiki_00, AA/wiki_01, ...)."""
    return sorted(p for p in root.rglob("wiki_*") if _EXTRACTOR_FILE.match(p.name))


def is_xml_dump(path: Path) -> bool:
    return path.name.endswith((".xml", ".xml.bz2"))


def iter_wiki_docs(path: Path, skipped: Counter) -> Iterator[WikiDoc]:
    """Articles from a dump file, a WikiExtractor tree, or one WikiExtractor file."""
    path = Path(path)
    if path.is_dir():
        files = extractor_files(path)
        if not files:
            raise CorpusFormatError(
                f"{path}: no WikiExtractor files (wiki_NN or wiki_NN.bz2) found"
            )
        for file in files:
            with open_maybe_bz2(file) as stream:
                yield from iter_extractor_file(stream, str(file), skipped)
    elif is_xml_dump(path):
        with open_maybe_bz2(path) as stream:
            yield from iter_xml_dump(stream, str(path), skipped)
    elif _EXTRACTOR_FILE.match(path.name):
        with open_maybe_bz2(path) as stream:
            yield from iter_extractor_file(stream, str(path), skipped)
    else:
        raise CorpusFormatError(
            f"{path}: not a MediaWiki dump (*.xml, *.xml.bz2) nor a WikiExtractor file or folder"
        )
