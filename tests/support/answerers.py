"""Answerers used by tests to exercise the spine's failure paths through the real interface."""

import os
import time

from apps.conversations.pipeline import Answer, AnswerUnavailable, Turn


class CrashingAnswerer:
    """Kills the whole worker process mid-task, before the task is acknowledged."""

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        os._exit(13)


class UnavailableAnswerer:
    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        raise AnswerUnavailable("every endpoint is down")


class ContextEchoAnswerer:
    """Answers with what it was given, so tests can see the context the spine built."""

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        seen = " | ".join(f"{turn.role}:{turn.text}" for turn in context)
        return Answer(text=f"[{seen}] -> {question}", reasoning="internal chain of thought")


class SlowAnswerer:
    """Takes a while, like a long LLM call, then answers."""

    delay_s = 3.0

    def answer(self, *, conversation_id: int, question: str, context: list[Turn]) -> Answer:
        time.sleep(self.delay_s)
        return Answer(text=f"想了很久：{question}")


class HangingAnswerer(SlowAnswerer):
    """Longer than any test waits: the worker is killed while the call is still in flight."""

    delay_s = 120.0
