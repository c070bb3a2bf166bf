"""The embedded model's server: llama.cpp's OpenAI-compatible server, in process through xllamacpp.

``python -m apps.llm.embedded_server`` (Procfile ``embedded-llm``; compose service ``embedded-llm``)
verifies the model file (``apps/llm/embedded_model.py``), then loads it with llama.cpp and serves
``/v1/chat/completions`` (streamed), ``/v1/models`` and ``/health`` on ``LLM_EMBEDDED_HOST``:
``LLM_EMBEDDED_PORT``. The desk calls it as one more endpoint of its pool (``LLM_EMBEDDED_URL``),
through the same client, breaker and probe as a vLLM server.

It never exits on a refusal: honcho stops every process when one ends, and the desk must keep
answering from its knowledge base and handing over to people. A model that fails verification, or
a missing xllamacpp, leaves a stand-in on the port that answers 503 with the reason, so the
desk's probe and calls fail (the breaker opens; messages get the fallback and a human) and
``curl :8090/health`` tells an operator why. ``LLM_EMBEDDED_ENABLED=false`` loads nothing (the
stand-in then answers /health 200, so a container probe stays green, and everything else 503).
"""

import json
import logging
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from apps.llm import embedded_model
from apps.llm.embedded_model import SPEC, ModelRefused

logger = logging.getLogger("apps.llm.embedded_server")


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _enabled() -> bool:
    return _env("LLM_EMBEDDED_ENABLED", "true").strip().lower() in ("true", "1", "yes")


def serve_model(path: Path, *, host: str, port: int) -> Any:
    """Load the model and listen; returns the xllamacpp Server (it serves from its own threads)."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = {SPEC.name}
    params.hostnames = [host]
    params.port = port
    threads = _env_int("LLM_EMBEDDED_THREADS", min(2, os.cpu_count() or 1))
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_parallel = _env_int("LLM_EMBEDDED_PARALLEL", 1)
    # Every slot gets n_ctx / n_parallel tokens: 4096 holds the prompt's 2000-token context budget,
    # the knowledge snippets and the answer.
    params.n_ctx = _env_int("LLM_EMBEDDED_CTX", 4096) * params.n_parallel
    params.n_predict = _env_int("LLM_EMBEDDED_MAX_TOKENS", 256)  # a ceiling under each request's max_tokens
    # llama-server keeps finished prompts' KV state in RAM for reuse, 8 GiB by default: a slow leak
    # on a small box. The slot's own cache still reuses the persona's prefix from one call to the next.
    params.cache_ram_mib = _env_int("LLM_EMBEDDED_CACHE_RAM_MIB", 256)
    params.ui = False
    params.verbosity = _env_int("LLM_EMBEDDED_VERBOSITY", 2)
    return xllamacpp.Server(params)


def serve_stand_in(reason: str, *, host: str, port: int, healthy: bool = False) -> ThreadingHTTPServer:
    """Answer every request with 503 and the reason, so a refused model is visible, not silent.

    ``healthy``: /health answers 200 (the model is off on purpose: a container probe stays green).
    """
    body = json.dumps({"error": {"message": f"embedded model {reason}", "type": "model_unavailable"}}).encode()

    class StandIn(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(200 if healthy and self.path == "/health" else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), StandIn)
    threading.Thread(target=server.serve_forever, name="embedded-stand-in", daemon=True).start()
    return server


def start(*, host: str, port: int, verify: str = "full") -> tuple[str, Any]:
    """Verify, then serve the model, or the refusal: ("serving" | "refused" | "off", server)."""
    if not _enabled():
        logger.info("LLM_EMBEDDED_ENABLED=false: the embedded model is off; not loading it")
        return "off", _stand_in("is off (LLM_EMBEDDED_ENABLED=false)", host=host, port=port, healthy=True)
    try:
        path = embedded_model.verify(SPEC, embedded_model.model_path(SPEC), full=verify != "stamp")
        # llama.cpp's OpenMP threads spin at every barrier (300,000 turns by default) before they sleep;
        # on two cores shared with the desk and other work a spinning thread holds the core its partner
        # needs: 1-3 tokens/s instead of 3-7 with no spinning at all, which costs a fifth on an idle box
        # (9.3 against 11.8; a short spin did not hold up under load: docs/benchmarks.md, "Embedded
        # model"). Read when the library loads, so set before the import; GOMP_SPINCOUNT overrides it.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import xllamacpp  # noqa: F401

        started = time.monotonic()
        server = serve_model(path, host=host, port=port)
    except ModelRefused as exc:
        reason = str(exc)
    except ImportError as exc:
        reason = f"xllamacpp is not installed ({exc}): run `make install`"
    except Exception as exc:  # llama.cpp could not load the file or bind the port
        reason = f"llama.cpp failed to start: {type(exc).__name__}: {exc}"
    else:
        logger.info(
            "embedded model %s serving on http://%s:%d/v1 (loaded in %.1f s)",
            SPEC.name,
            host,
            port,
            time.monotonic() - started,
        )
        return "serving", server
    logger.error(
        "REFUSING the embedded model: %s. The desk answers from its knowledge base and hands other "
        "questions to people until this is fixed.",
        reason,
    )
    return "refused", _stand_in(f"refused: {reason}", host=host, port=port)


def _stand_in(reason: str, *, host: str, port: int, healthy: bool = False) -> ThreadingHTTPServer | None:
    try:
        return serve_stand_in(reason, host=host, port=port, healthy=healthy)
    except OSError as exc:
        logger.error("could not listen on %s:%d to say the embedded model %s: %s", host, port, reason, exc)
        return None


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("DESK_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    host = _env("LLM_EMBEDDED_HOST", "127.0.0.1")
    port = _env_int("LLM_EMBEDDED_PORT", 8090)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _, server = start(host=host, port=port, verify=_env("LLM_EMBEDDED_VERIFY", "full"))
    stop.wait()  # also when off or refused: under honcho an exit would stop the whole desk
    if isinstance(server, ThreadingHTTPServer):
        server.shutdown()
    logger.info("embedded model server stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
