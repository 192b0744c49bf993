"""The evaluation harness behind ``jixiao eval``: score extractors against hand labels, record runs, compare them.

- ``samples``: the labelled files of a fixtures folder;
- ``runner``: run an extractor (or take stored outputs) and score every file;
- ``records``: what a run folder holds (``run.json``, ``scores.json``, predictions);
- ``diff``: two runs compared field by field, every flipped field listed;
- ``report``: the terminal tables; ``html``: the self-contained HTML report.

Scoring itself is ``pipeline.scoring``; ``eval/README.md`` explains the rules.
"""
