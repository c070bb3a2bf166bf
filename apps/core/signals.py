"""Signals core sends to the apps above it (core imports no other app)."""

from django.dispatch import Signal

# rotate_keys, after the encrypted columns: apps re-seal their encrypted files under the primary key.
# kwargs: ``progress(total, description)`` returns an object with ``update(n)``; each receiver
# returns how many files it re-sealed.
files_rekey = Signal()
