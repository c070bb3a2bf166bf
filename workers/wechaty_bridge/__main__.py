"""``python -m workers.wechaty_bridge`` (from .venv-bridge): run the bridge until SIGTERM."""

import asyncio
import logging
import os
import sys

from apps.core.logging import PiiMaskingFilter
from workers.wechaty_bridge.config import BridgeConfig, ConfigError


def logging_configure() -> None:
    logging.basicConfig(
        level=os.environ.get("WECHATY_BRIDGE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The bridge handles customers' messages too (a refused forward logs the desk's answer, a
    # handler error its traceback): the desk's masking of phone, ID and card numbers applies here.
    for handler in logging.getLogger().handlers:
        handler.addFilter(PiiMaskingFilter())


def main() -> int:
    logging_configure()
    # The SDK logs every message it receives at INFO, bodies included; warnings are enough.
    os.environ.setdefault("WECHATY_LOG", "warn")
    try:
        config = BridgeConfig.from_env()
    except (ConfigError, OSError) as exc:
        print(f"wechaty bridge: {exc}", file=sys.stderr)
        return 2

    from workers.wechaty_bridge import sdk
    from workers.wechaty_bridge.bridge import Bridge

    wechaty = sdk.load(config.state_dir)
    asyncio.run(Bridge(config, wechaty).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
