"""The demo shop's canned responses (data/demo_canned_responses.csv), loaded by ``manage.py console_demo``.

Their wording follows the demo shop's knowledge base (apps/knowledge/data/demo_store.csv): the same
days, hours and amounts, so an agent's canned reply never contradicts the bot's answer.
"""

import csv
from pathlib import Path

CANNED_RESPONSES_FILE = Path(__file__).resolve().parent / "data" / "demo_canned_responses.csv"


def demo_canned_responses_rows() -> list[dict[str, str]]:
    with CANNED_RESPONSES_FILE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
