"""Media a conversation carries: images, voice notes, videos and files, in and out.

- ``sniff``: what a file is, from its bytes, and whether it is within WeChat's limits;
- ``store``: the encrypted file store (the text columns' AES-256-GCM key ring, any Django storage);
- ``receive``: customer media arriving as bytes (uploads) or as a channel reference (WeChat);
- ``prepare``: the processing step that fetches, checks and reads media before moderation;
- ``send``: agents' media out through the channel adapters;
- ``retention``: the purge of media older than DESK_MEDIA_RETENTION_DAYS.
"""
