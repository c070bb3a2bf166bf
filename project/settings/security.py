"""Encryption at rest. Keys never live in the code outside local/test profiles."""

from project.settings.env import env_str

# "id:base64(32 bytes),id:base64(32 bytes)": the first encrypts, all decrypt (rotation).
# Generate one with: python manage.py rotate_keys --new-key <id>
DESK_ENCRYPTION_KEYS = env_str("DESK_ENCRYPTION_KEYS", "")
