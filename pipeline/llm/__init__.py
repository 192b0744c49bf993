"""The LLM extractor and what it needs: prompts as files, one retry policy, a cache, usage and cost.

- ``extractor``: ``LlmExtractor``, one instructor-constrained call per form, checked and re-asked.
- ``prompts``: prompt versions under ``prompts/``, loaded and hashed.
- ``transport``: the retry policy (429 with Retry-After, 5xx, timeouts, dropped connections).
- ``usage``: tokens, requests, cache hits, cost; ``LlmRun``, stored with every output.

Import from the submodules; this package imports nothing so ``pipeline.result`` can use ``usage``.
"""
