"""Answerers used by tests to exercise the spine's failure paths through the real interface."""

import os

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
