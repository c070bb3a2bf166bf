"""Fixtures of the LLM tests: local OpenAI-compatible servers and endpoints pointing at them."""

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.llm import embedded_model, selectors
from apps.llm.embedded_model import ModelSpec
from apps.llm.models import Endpoint
from peers.openai_server import Behaviour, OpenAIServer


@pytest.fixture(autouse=True)
def _llm_settings(settings: Any) -> Iterator[None]:
    # A fresh Redis key prefix per test: breaker state never leaks from one test into the next.
    settings.LLM_REDIS_PREFIX = f"llm-test-{uuid.uuid4().hex[:8]}"
    settings.LLM_ENDPOINTS_CACHE_S = 0
    settings.LLM_COOLDOWN_MIN_S = 0.4
    settings.LLM_COOLDOWN_MAX_S = 1.0
    settings.DESK_ANSWERER = "apps.llm.answerer.LLMAnswerer"
    selectors.endpoints_cache_clear()
    yield
    selectors.endpoints_cache_clear()


@pytest.fixture
def openai_server() -> Iterator[Callable[..., OpenAIServer]]:
    started: list[OpenAIServer] = []

    def _start(**behaviour: object) -> OpenAIServer:
        server = OpenAIServer(Behaviour(**behaviour)).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


@pytest.fixture
def endpoint_for(db: None) -> Callable[..., Endpoint]:
    def _make(server: OpenAIServer, **fields: object) -> Endpoint:
        values: dict[str, object] = {
            "name": f"gpu-{server.port}",
            "base_url": server.url,
            "model": server.behaviour.model,
            "connect_timeout_s": 1.0,
            "read_timeout_s": 1.0,
            "total_timeout_s": 3.0,
            **fields,
        }
        return Endpoint.objects.create(**values)

    return _make


# A pretend packaged model (tests/llm/test_embedded_model_file.py, test_embedded.py): slices in pretend
# packages, their spec and the assembled file.
@pytest.fixture
def slices(tmp_path: Path) -> list[Path]:
    """Three slices of a pretend model, in three pretend packages."""
    files = []
    for i, size in enumerate((70_000, 70_000, 12_345), start=1):
        part = tmp_path / f"pkg{i}" / "data" / f"part{i:02d}.bin"
        part.parent.mkdir(parents=True)
        part.write_bytes(os.urandom(size))
        files.append(part)
    return files


@pytest.fixture
def spec(slices: list[Path]) -> ModelSpec:
    whole = b"".join(p.read_bytes() for p in slices)
    return ModelSpec(
        name="tiny",
        filename="tiny.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        parts=("pkg1", "pkg2", "pkg3"),
        source="test",
    )


@pytest.fixture
def assembled(spec: ModelSpec, slices: list[Path], tmp_path: Path) -> Path:
    return embedded_model.assemble(spec, tmp_path / "models", parts=slices, progress=False)
