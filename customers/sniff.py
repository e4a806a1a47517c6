"""Detect a CSV file's encoding and delimiter from its first bytes (both overridable).

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
>>> _ = p.write_bytes("ime;prezime\\nAmra;Hodžić\\n".encode("cp1250"))
>>> sniff(p)
CsvFormat(encoding='cp1250', delimiter=';')
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path

from customers.errors import ImportError_

SAMPLE_BYTES = 1 << 20
DELIMITERS = ",;\t|"
# Not UTF-8 and no byte-order mark: Windows' Central European code page, which is what
# spreadsheets in the demo's region write. Latin-1 would decode anything and hide mistakes.
FALLBACK_ENCODING = "cp1250"


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str


def sniff(path: Path, encoding: str | None = None, delimiter: str | None = None) -> CsvFormat:
    """The file's encoding and delimiter; given values win over detected ones."""
    with open(path, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
    if not sample.strip():
        raise ImportError_(f"{path}: the file is empty", "export the file again with a header row")
    encoding = encoding or _encoding(sample)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportError_(
            f"{path}: unknown encoding '{encoding}'", "use e.g. utf-8, cp1250 or latin-1"
        ) from None
    text = sample.decode(encoding, errors="replace")
    return CsvFormat(encoding, delimiter or _delimiter(text))


def _encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # final=False: the sample may end in the middle of a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return FALLBACK_ENCODING
    return "utf-8"


def _delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(head, delimiters=DELIMITERS).delimiter
    except csv.Error:
        # One column, or too little text to tell: count candidates on the header line.
        first = text.splitlines()[0] if text else ""
        return max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","
