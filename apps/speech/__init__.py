"""Reading customers' voice notes (the spine's SpeechReader step) and converting audio for browsers."""
