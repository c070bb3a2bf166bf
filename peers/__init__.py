"""Protocol peers and data sets shared by the tests and the benchmarks.

Local stand-ins for external systems (WeChat's APIs in ``fake_wechat``, an OpenAI-compatible vLLM
server in ``openai_server``) and labelled data (``knowledge_dataset``). The desk itself (apps/,
project/, workers/) never imports it.
"""
