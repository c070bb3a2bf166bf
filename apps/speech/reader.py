"""Speech readers for the spine's voice step (DESK_SPEECH_READER)."""

from apps.conversations.pipeline import SpeechText, SpeechUnreadable


class NoSpeechReader:
    """No speech model installed: every voice note the channel did not transcribe goes to a person."""

    def read(self, *, data: bytes, content_type: str) -> SpeechText:
        raise SpeechUnreadable("no speech model installed")
