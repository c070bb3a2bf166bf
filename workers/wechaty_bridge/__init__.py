"""The Wechaty bridge: one WeChat account (through a Wechaty puppet service) to the desk.

Runs as its own process in its own virtualenv (.venv-bridge, requirements-bridge.txt): the
Python SDK pins libraries the desk does not want and needs a workaround to import on 3.11.
Only ``protocol`` and ``rules`` are imported by the desk itself; they depend on nothing.
"""
