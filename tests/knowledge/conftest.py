"""Fixtures of the knowledge tests: entries from the labelled set, the local OpenAI-compatible server, images."""

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from PIL import Image, ImageDraw, ImageFont

from apps.knowledge import services
from apps.knowledge.index import knowledge_base
from apps.knowledge.models import Entry
from apps.knowledge.selectors import KNOWLEDGE_VERSION_KEY
from apps.llm import selectors as llm_selectors
from apps.llm.cache import answer_cache
from apps.llm.models import Endpoint
from peers.knowledge_dataset import ENTRIES, FaqEntry
from peers.openai_server import Behaviour, OpenAIServer

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@pytest.fixture(autouse=True)
def _knowledge_settings(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.KNOWLEDGE_RELOAD_SECONDS = 0
    settings.LLM_REDIS_PREFIX = f"llm-test-{uuid.uuid4().hex[:8]}"
    settings.LLM_ENDPOINTS_CACHE_S = 0
    settings.DESK_ANSWERER = "apps.llm.answerer.LLMAnswerer"
    settings.MEDIA_ROOT = tmp_path / "media"
    llm_selectors.endpoints_cache_clear()
    knowledge_base().forget()
    answer_cache().clear_local()
    yield
    # Rows roll back between tests but Redis and the process's index do not.
    cache.delete(KNOWLEDGE_VERSION_KEY)
    knowledge_base().forget()
    answer_cache().clear_local()
    llm_selectors.endpoints_cache_clear()


@pytest.fixture
def llm_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer(Behaviour(answer="这是模型的回答。")).start()
    yield server
    server.stop()


@pytest.fixture
def llm_endpoint(llm_server: OpenAIServer, transactional_db: None) -> Endpoint:
    return Endpoint.objects.create(
        name=f"gpu-{llm_server.port}",
        base_url=llm_server.url,
        model=llm_server.behaviour.model,
        connect_timeout_s=1.0,
        read_timeout_s=2.0,
        total_timeout_s=5.0,
    )


def entry_save(faq: FaqEntry) -> Entry:
    return services.entry_save(
        entry=Entry(question=faq.question, variants="\n".join(faq.variants), answer=faq.answer, tags=faq.key)
    )


@pytest.fixture
def faq(eager_tasks: None) -> dict[str, Entry]:
    """The 30 labelled entries, saved through the service (the embed task runs on commit)."""
    return {faq.key: entry_save(faq) for faq in ENTRIES}


def faq_of(key: str) -> FaqEntry:
    return next(f for f in ENTRIES if f.key == key)


def text_image(lines: list[str], *, size: tuple[int, int] = (720, 260), fmt: str = "PNG") -> bytes:
    """A picture of Chinese text, drawn with the CJK font Debian ships (fonts-noto-cjk)."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(CJK_FONT), 44)
    for i, line in enumerate(lines):
        draw.text((30, 40 + i * 80), line, font=font, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def cjk_image() -> Callable[..., bytes]:
    if not CJK_FONT.is_file():
        pytest.skip("fonts-noto-cjk is not installed")
    return text_image
