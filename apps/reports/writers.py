"""Row-at-a-time CSV and XLSX writers: memory stays flat whatever the number of rows.

CSV starts with a UTF-8 BOM so that Excel opens Chinese text correctly. XLSX is written here as
the minimal SpreadsheetML package (inline strings, one date style), each sheet streamed into the
zip as rows come: xlsxwriter's constant_memory mode is as flat but spends ~120 µs per row on
per-cell XML, which made a 1M-row export take minutes (bench/export.py). Sheets roll over before
Excel's 1,048,576-row limit.
"""

import csv
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any

from django.utils import timezone

XLSX_MAX_ROWS = 1_048_576
Progress = Callable[[int], None]


def _cell(value: Any, tz: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    return value


def csv_write(
    *, out: IO[str], header: Sequence[str], rows: Iterable[Sequence[Any]], progress: Progress | None = None
) -> int:
    tz = timezone.get_current_timezone()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(header)
    count = 0
    for count, row in enumerate(rows, start=1):
        writer.writerow([_cell(v, tz) for v in row])
        if progress is not None:
            progress(count)
    return count


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(*, header: Sequence[str], rows: Iterable[Sequence[Any]], rows_per_chunk: int = 2000) -> Iterator[bytes]:
    """CSV as a stream of byte chunks, for a streaming HTTP response."""
    tz = timezone.get_current_timezone()
    writer = csv.writer(_Echo())
    buffer = ["\ufeff", writer.writerow(header)]
    for row in rows:
        buffer.append(writer.writerow([_cell(v, tz) for v in row]))
        if len(buffer) >= rows_per_chunk:
            yield "".join(buffer).encode()
            buffer = []
    if buffer:
        yield "".join(buffer).encode()


XLSX_MAX_ROWS = 1_048_576
_EXCEL_EPOCH = datetime(1899, 12, 30)
# XML 1.0 forbids most control characters; Excel's own escape for them is _xHHHH_.
_XML_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;"}
_XML_ESCAPES.update({c: f"_x{c:04X}_" for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))})
_XML_ESCAPES.update({0xFFFE: "_xFFFE_", 0xFFFF: "_xFFFF_"})
_SURROGATES = re.compile("[\ud800-\udfff]")


def _columns(n: int) -> list[str]:
    names = []
    for i in range(n):
        name, i1 = "", i + 1
        while i1:
            i1, rem = divmod(i1 - 1, 26)
            name = chr(65 + rem) + name
        names.append(name)
    return names


def _xml_text(value: str) -> str:
    text = value.translate(_XML_ESCAPES)
    return _SURROGATES.sub("\ufffd", text) if not text.isascii() else text


def _xlsx_row(index: int, row: Sequence[Any], columns: list[str], tz: Any, style: str = "") -> str:
    cells = []
    for col, value in zip(columns, row, strict=False):
        if value is None or value == "":
            continue  # an absent cell reads back as empty
        ref = f"{col}{index}"
        if isinstance(value, bool):
            cells.append(f'<c r="{ref}" t="b"{style}><v>{int(value)}</v></c>')
        elif isinstance(value, int | float):
            cells.append(f'<c r="{ref}"{style}><v>{value}</v></c>')
        elif isinstance(value, datetime):
            serial = (value.astimezone(tz).replace(tzinfo=None) - _EXCEL_EPOCH).total_seconds() / 86400
            cells.append(f'<c r="{ref}" s="2"><v>{serial:.8f}</v></c>')
        else:
            cells.append(
                f'<c r="{ref}" t="inlineStr"{style}><is><t xml:space="preserve">{_xml_text(str(value))}</t></is></c>'
            )
    return f'<row r="{index}">{"".join(cells)}</row>'


_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
    'state="frozen"/></sheetView></sheetViews><cols><col min="2" max="2" width="20" customWidth="1"/></cols>'
    "<sheetData>"
)
_SHEET_TAIL = "</sheetData></worksheet>"
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _package_parts(sheets: list[str]) -> dict[str, str]:
    ns = "http://schemas.openxmlformats.org"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        f'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    sheet_list = "".join(
        f'<sheet name="{_xml_text(name)}" sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(sheets, start=1)
    )
    sheet_rels = "".join(
        f'<Relationship Id="rId{i}" Type="{ns}/officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    return {
        "[Content_Types].xml": head + f'<Types xmlns="{ns}/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>",
        "_rels/.rels": head + f'<Relationships xmlns="{ns}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": head + f'<workbook xmlns="{ns}/spreadsheetml/2006/main" '
        f'xmlns:r="{ns}/officeDocument/2006/relationships"><sheets>{sheet_list}</sheets></workbook>',
        "xl/_rels/workbook.xml.rels": head + f'<Relationships xmlns="{ns}/package/2006/relationships">'
        f'{sheet_rels}<Relationship Id="rId{len(sheets) + 1}" '
        f'Type="{ns}/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": _STYLES,
    }


def xlsx_write(
    *,
    path: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    progress: Progress | None = None,
    sheet_name: str = "messages",
    max_rows: int = XLSX_MAX_ROWS,
) -> int:
    tz = timezone.get_current_timezone()
    columns = _columns(len(header))
    header_xml = _xlsx_row(1, header, columns, tz, style=' s="1"')
    sheets: list[str] = []
    count = 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        iterator = iter(rows)
        exhausted = False
        while not exhausted:
            sheets.append(sheet_name if not sheets else f"{sheet_name}-{len(sheets) + 1}")
            with archive.open(f"xl/worksheets/sheet{len(sheets)}.xml", "w", force_zip64=True) as raw:
                buffer = [_SHEET_HEAD, header_xml]
                index = 1
                while index < max_rows:
                    row = next(iterator, None)
                    if row is None:
                        exhausted = True
                        break
                    index += 1
                    count += 1
                    buffer.append(_xlsx_row(index, row, columns, tz))
                    if len(buffer) >= 1000:
                        raw.write("".join(buffer).encode())
                        buffer = []
                    if progress is not None:
                        progress(count)
                buffer.append(_SHEET_TAIL)
                raw.write("".join(buffer).encode())
            if not exhausted:
                # Peek: a sheet that would hold only the header is not worth starting.
                row = next(iterator, None)
                if row is None:
                    break
                iterator = _chain_first(row, iterator)
        for name, content in _package_parts(sheets).items():
            archive.writestr(name, content)
    return count


def _chain_first(first: Sequence[Any], rest: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    yield first
    yield from rest
