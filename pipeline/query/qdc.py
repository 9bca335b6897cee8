"""REFI-QDA codebooks (the exchange format of NVivo, ATLAS.ti, MAXQDA and QualCoder):
the codebook as REFI-QDA codes (nested by category, definitions as descriptions), the
codebook alone as a .qdc file, and codebooks made in other tools read back into a
themes.toml skeleton. The project (.qdpx) is qdpx.py; both share the GUIDs made here,
derived from natural keys (uuid5), so exporting again gives the same GUIDs and a tool
can match a re-export to what it imported (and codebook import finds our own themes).
"""

from __future__ import annotations

import os
import re
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import sqlite_utils

from pipeline import __version__
from pipeline.analysis.codebook import CATEGORIES
from pipeline.errors import PipelineError
from pipeline.text import printable

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
ORIGIN = f"podinsights {__version__}"
GUIDS = uuid.UUID("5b0f9a52-3c2e-4f7e-9d55-1d2c8f0e7a18")  # podinsights' uuid5 namespace
NOT_IN_CODEBOOK = "not-in-the-codebook"  # the parent of codes people used that it lacks
# XML 1.0 has no place for these (a memo could hold one); they are dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class QdaError(PipelineError):
    pass


def guid(*parts: Any) -> str:
    return str(uuid.uuid5(GUIDS, "\x1f".join(str(p) for p in parts)))


def theme_guid(theme_id: str) -> str:
    return guid("theme", theme_id)


def xml_text(value: Any) -> str:
    return _NOT_XML.sub("", str(value))


def codebook_codes(db: sqlite_utils.Database) -> ET.Element:
    """<Codes>: a code per category (not codable) holding a code per theme, whose
    description is the theme's definition; themes that people coded but the codebook no
    longer has go under a code of their own."""
    codes = ET.Element("Codes")
    themes = list(db.query("select id, label, category, definition from themes order by id"))
    used = [
        row[0]
        for row in db.execute(
            "select distinct theme_id from codings where theme_id <> '' and theme_id not in"
            " (select id from themes) order by 1"
        )
    ]
    themes += [{"id": t, "label": t, "category": NOT_IN_CODEBOOK, "definition": None} for t in used]
    order = [*CATEGORIES, *sorted({t["category"] for t in themes} - set(CATEGORIES))]
    for category in order:
        members = [t for t in themes if t["category"] == category]
        if not members:
            continue
        parent = ET.SubElement(
            codes,
            "Code",
            guid=guid("category", category),
            name=category.replace("-", " ").capitalize(),
            isCodable="false",
        )
        for theme in members:
            code = ET.SubElement(
                parent,
                "Code",
                guid=theme_guid(theme["id"]),
                name=xml_text(theme["label"]),
                isCodable="true",
            )
            if theme["definition"]:
                ET.SubElement(code, "Description").text = xml_text(theme["definition"])
    return codes


def write_qdc(db: sqlite_utils.Database, path: Path) -> int:
    """The codebook alone, as a REFI-QDA codebook (.qdc). Returns the number of themes."""
    root = ET.Element("CodeBook", xmlns=CODEBOOK_NS, origin=ORIGIN)
    codes = codebook_codes(db)
    root.append(codes)
    if not len(codes):
        raise QdaError("The codebook is empty: run `podinsights analyze` first.")
    _atomic_write(
        path, b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")
    )
    return sum(len(parent) for parent in codes)


def _atomic_write(path: Path, data: bytes) -> None:
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)


# --- codebooks from other tools ------------------------------------------------------


@dataclass
class ImportedCode:
    id: str
    label: str
    category: str
    definition: str
    path: str  # where it sat in the other tool's tree: "Parent > Child"
    guessed_category: bool = False
    no_definition: bool = False


def read_codebook(path: Path) -> list[ImportedCode]:
    """Every codable code of a REFI-QDA codebook (.qdc, or the CodeBook of a .qdpx),
    with an id (ours, where the GUID is one of this codebook's themes; else made from
    its name), its category (the nearest parent named like one of ours) and definition."""
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        data = _codebook_bytes(path)
        root = fromstring(data)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise QdaError(f"Cannot read {path}: {exc}.") from exc
    except ParseError as exc:
        raise QdaError(f"{path} is not XML: {exc}.") from exc
    codes = root.find(".//{*}Codes")
    if codes is None:
        raise QdaError(f"{path} has no <Codes>: is it a REFI-QDA codebook?")
    ours = _our_guids()
    found: list[ImportedCode] = []
    for element, parents in _walk(codes, []):
        if element.get("isCodable", "true").lower() == "false":
            continue
        found.append(_imported(element, parents, ours, {c.id for c in found}))
    if not found:
        raise QdaError(f"{path} has no codable codes.")
    return found


def _codebook_bytes(path: Path) -> bytes:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return archive.read("project.qde")
    return path.read_bytes()


def _our_guids() -> dict[str, str]:
    from pipeline.analysis.codebook import load_codebook

    return {theme_guid(t.id): t.id for t in load_codebook(validate=False).themes}


def _walk(
    codes: ET.Element, parents: list[ET.Element]
) -> Iterator[tuple[ET.Element, list[ET.Element]]]:
    for element in codes:
        if element.tag.rsplit("}", 1)[-1] != "Code":
            continue
        yield element, parents
        yield from _walk(element, [*parents, element])


def slug(name: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", name.lower())) or "code"


def _imported(
    element: ET.Element, parents: list[ET.Element], ours: dict[str, str], taken: set[str]
) -> ImportedCode:
    name = (element.get("name") or "").strip() or "Unnamed code"
    code_id = ours.get((element.get("guid") or "").lower()) or slug(name)
    base, number = code_id, 2
    while code_id in taken:
        code_id, number = f"{base}-{number}", number + 1
    description = element.find("{*}Description")
    definition = " ".join((description.text or "").split()) if description is not None else ""
    category = next(
        (
            slug(p.get("name", ""))
            for p in reversed(parents)
            if slug(p.get("name", "")) in CATEGORIES
        ),
        None,
    )
    return ImportedCode(
        id=code_id,
        label=name,
        category=category or CATEGORIES[1],
        definition=definition or name,
        path=" > ".join([*(p.get("name", "") for p in parents), name]),
        guessed_category=category is None,
        no_definition=not definition,
    )


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m[0]):04x}", escaped) + '"'


def _comment(value: str) -> str:
    """Another tool's names in a comment: one line, no control characters."""
    return " ".join(printable(value).split())


def skeleton_toml(codes: list[ImportedCode], source: str) -> str:
    """A themes.toml with the codes' ids, labels, categories and definitions; the phrases,
    patterns and examples that make the matcher find them are the researcher's to add."""
    lines = [
        f"# Made by `podinsights codebook import` from {source}.",
        "# Each theme needs phrases or patterns (or examples) before the analysis can find",
        "# it: see the packaged themes.toml for how they are written, and check your work",
        "# with `podinsights analyze-text`.",
        "",
        "version = 1",
        "semantic_threshold = 0.65",
    ]
    for code in codes:
        lines += ["", "[[themes]]", f"# from: {_comment(code.path)}"]
        if code.guessed_category:
            lines.append(f"# category: no parent named like one of {', '.join(CATEGORIES)}")
        if code.no_definition:
            lines.append("# definition: the tool gave none; this is the label, write one")
        lines += [
            f"id = {_toml_string(code.id)}",
            f"label = {_toml_string(code.label)}",
            f"category = {_toml_string(code.category)}",
            f"definition = {_toml_string(code.definition)}",
            "phrases = []",
            "patterns = []",
        ]
    return "\n".join(lines) + "\n"
