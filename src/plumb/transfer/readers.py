"""Reading tabular files row by row: CSV in whatever encoding and delimiter it came in, XLSX
streamed sheet row by sheet row. Memory stays flat whatever the file's size.

CSV encoding: a byte-order mark decides (UTF-8, UTF-16 as Excel's "Unicode text" writes it);
else a sample that decodes as UTF-8 is UTF-8; else charset-normalizer names the encoding
(cp1252 and friends from older Excel exports). The delimiter is sniffed from the sample among
comma, semicolon, tab and pipe.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from charset_normalizer import from_bytes
from openpyxl import load_workbook

from plumb.core.errors import BadRequest

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class FileFormat:
    kind: str
    """``csv`` or ``xlsx``."""
    encoding: str | None = None
    delimiter: str | None = None

    def describe(self) -> str:
        if self.kind == "xlsx":
            return "XLSX"
        name = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}[self.delimiter or ","]
        return f"CSV, {self.encoding}, {name}-separated"


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sniff(path: Path) -> FileFormat:
    """The file's format; for CSV its encoding and delimiter."""
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if sample.startswith(b"PK\x03\x04"):
        return FileFormat("xlsx")
    encoding = _encoding(sample)
    text = _decode_sample(sample, encoding)
    return FileFormat("csv", encoding, _delimiter(text))


def _encoding(sample: bytes) -> str:
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    try:
        # the sample may end inside a multi-byte character: decode incrementally, not final
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        best = from_bytes(sample).best()
        if best is None:
            raise BadRequest(
                "the file is not text in any encoding Plumb recognises "
                "(save it as CSV UTF-8 or XLSX)"
            ) from None
        return _prefer_cp1252(sample, best.encoding)
    return "utf-8"


def _prefer_cp1252(sample: bytes, guess: str) -> str:
    """Western text reads the same in several single-byte code pages (cp1250, latin-1, ...);
    when the guess and cp1252, which Excel writes on Western systems, agree on every character,
    say cp1252."""
    try:
        if sample.decode("cp1252") == sample.decode(guess):
            return "cp1252"
    except (UnicodeDecodeError, LookupError):
        pass
    return guess


def _decode_sample(sample: bytes, encoding: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(sample, final=False)


def _delimiter(text: str) -> str:
    lines = text.splitlines()
    if len(lines) > 1 and len(text) >= SAMPLE_BYTES // 2:
        text = "\n".join(lines[:-1])  # the last line of a sample may be cut short
    try:
        return csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read, for a progress bar over a text stream."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


class TableReader:
    """The header and the data rows of a file, streamed. ``progress()`` is (done, total) in
    bytes for CSV and rows for XLSX."""

    def __init__(self, path: Path, fmt: FileFormat | None = None) -> None:
        self.path = path
        self.format = fmt or sniff(path)
        self._counter: _CountingReader | None = None
        self._rows_read = 0
        self._total = 0
        self.header: list[str] = []
        self._rows: Iterator[list[str]] = iter(())
        self._closers: list[Any] = []
        if self.format.kind == "xlsx":
            self._open_xlsx()
        else:
            self._open_csv()

    def _open_csv(self) -> None:
        raw = self.path.open("rb")
        self._closers.append(raw)
        self._total = self.path.stat().st_size
        self._counter = _CountingReader(raw)
        text = io.TextIOWrapper(
            io.BufferedReader(self._counter, 1 << 16),
            encoding=self.format.encoding,
            errors="strict",
            newline="",
        )
        reader = csv.reader(text, delimiter=self.format.delimiter or ",")
        self._rows = reader
        self.header = self._read_header()

    def _open_xlsx(self) -> None:
        try:
            book = load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken archive
            raise BadRequest(f"{self.path.name} is not a readable XLSX workbook: {exc}") from exc
        self._closers.append(book)
        sheet = book.worksheets[0]
        self._total = max((sheet.max_row or 1) - 1, 0)
        self._rows = ([_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True))
        self.header = self._read_header()

    def _read_header(self) -> list[str]:
        try:
            header = next(self._rows)
        except StopIteration:
            raise BadRequest(f"{self.path.name} is empty: no header row") from None
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{self.path.name} could not be read: {exc}") from exc
        header = [h.strip().lstrip("\ufeff") for h in header]
        while header and not header[-1]:
            header.pop()
        if not any(header):
            raise BadRequest(f"{self.path.name}: the first row holds no column names")
        return header

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number as a spreadsheet counts it, cells), skipping wholly blank rows."""
        number = 1
        try:
            for cells in self._rows:
                number += 1
                self._rows_read += 1
                if not any(c.strip() for c in cells):
                    continue
                yield number, cells
        except UnicodeDecodeError as exc:
            raise BadRequest(
                f"{self.path.name}: row {number + 1} is not valid {self.format.encoding}: {exc}"
            ) from exc

    def progress(self) -> tuple[int, int]:
        if self._counter is not None:
            return self._counter.position, self._total
        return self._rows_read, self._total

    def close(self) -> None:
        for item in self._closers:
            item.close()

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cell_text(value: Any) -> str:
    """An XLSX cell as the text a person typed: whole numbers without ``.0``, dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
