"""Serving: the document collections a server holds, and the protocols it answers on.

collections (the served libraries by name, kept in step with their folders) → openai_api
(``/v1``: OpenAI-compatible chat completions and models), mcp_server (Model Context Protocol
tools over stdio or HTTP) and login (one password check and lockout for every door).
"""
