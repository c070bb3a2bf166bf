"""The streaming writers produce files that csv and openpyxl read back exactly."""

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl

from apps.reports import writers

HEADER = ["id", "created_at", "body", "ratio"]
AWKWARD = 'a<b & c>d "q", 换行\n第二行 \x01ctl'
ROWS = [
    (1, datetime(2026, 3, 1, 2, 3, 4, tzinfo=ZoneInfo("UTC")), AWKWARD, 0.5),
    (2, None, "", None),
    (3, datetime(2026, 3, 1, 16, 30, tzinfo=ZoneInfo("UTC")), "普通", 2),
]


def test_xlsx_cells_keep_their_types_escapes_and_local_time(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    assert writers.xlsx_write(path=str(path), header=HEADER, rows=ROWS) == 3
    sheet = openpyxl.load_workbook(path)["messages"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == HEADER
    assert values[1] == [1, datetime(2026, 3, 1, 10, 3, 4), AWKWARD.replace("\x01", "_x0001_"), 0.5]
    assert values[2] == [2, None, None, None]
    assert values[3] == [3, datetime(2026, 3, 2, 0, 30), "普通", 2]  # 16:30 UTC is the next day in Shanghai
    assert sheet["A1"].font.b


def test_xlsx_rolls_over_to_a_new_sheet_at_the_row_limit(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    rows = [(i, None, f"row {i}", None) for i in range(1, 8)]
    assert writers.xlsx_write(path=str(path), header=HEADER, rows=rows, max_rows=4) == 7
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["messages", "messages-2", "messages-3"]
    ids = [row[0] for sheet in book.worksheets for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert ids == list(range(1, 8))
    assert all(sheet["A1"].value == "id" for sheet in book.worksheets)


def test_exactly_full_sheets_start_no_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    writers.xlsx_write(path=str(path), header=HEADER, rows=[(i, None, "", None) for i in range(6)], max_rows=4)
    assert openpyxl.load_workbook(path).sheetnames == ["messages", "messages-2"]


def test_csv_file_and_csv_stream_are_the_same_and_read_back(tmp_path: Path) -> None:
    out = io.StringIO()
    assert writers.csv_write(out=out, header=HEADER, rows=ROWS) == 3
    streamed = b"".join(writers.csv_chunks(header=HEADER, rows=ROWS, rows_per_chunk=2)).decode()
    assert streamed == out.getvalue()
    assert streamed.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(streamed.removeprefix("\ufeff"))))
    assert rows[1] == ["1", "2026-03-01 10:03:04", AWKWARD, "0.5"]
    assert rows[2] == ["2", "", "", ""]
