"""What one form's call costs with a prompt version: the request and the reply, in characters and tokens.

For every form of every fixture (native PDFs) it builds the exact messages the LLM
extractor sends (system prompt, user message with the rendered pages) plus the
schema instructor sends beside them (the tool definition in ``tools`` mode), and
takes the hand label as the reply a perfect model would give. It prints characters
always, and tokens when a tokenizer is at hand:

- ``--tiktoken o200k_base`` (GPT-4o family) needs the ``tiktoken`` package and its
  encoding file (downloaded on first use, or in ``TIKTOKEN_CACHE_DIR``);
- ``--bpe path/qwen.tiktoken`` counts Qwen tokens from a local BPE file (the
  ``dashscope`` wheel ships one as ``dashscope/resources/qwen.tiktoken``).

    .venv/bin/python bench/llm_tokens.py [--prompt v1] [--bpe qwen.tiktoken | --tiktoken o200k_base]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
from collections.abc import Callable
from pathlib import Path

from instructor.processing.function_calls import openai_schema

from pipeline.extractors._rows import grids_of
from pipeline.llm.extractor import AssessmentForm, LlmExtractor
from pipeline.render import render_form
from pipeline.run import read_file
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FORMS = ROOT / "fixtures" / "forms"
# Qwen's pre-tokenizer pattern (as in dashscope's qwen_tokenizer.py).
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def tokenizer(args: argparse.Namespace) -> tuple[str, Callable[[str], int]] | None:
    if not (args.bpe or args.tiktoken):
        return None
    import tiktoken

    if args.tiktoken:
        encoding = tiktoken.get_encoding(args.tiktoken)
        return args.tiktoken, lambda text: len(encoding.encode(text, disallowed_special=()))
    ranks = {}
    for line in Path(args.bpe).read_text(encoding="utf-8").splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    encoding = tiktoken.Encoding("qwen", pat_str=QWEN_PATTERN, mergeable_ranks=ranks, special_tokens={})
    return Path(args.bpe).stem, lambda text: len(encoding.encode(text, disallowed_special=()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompt", default="v1")
    parser.add_argument("--bpe", help="a tiktoken-format BPE file (e.g. qwen.tiktoken)")
    parser.add_argument("--tiktoken", help="a tiktoken encoding name (e.g. o200k_base)")
    args = parser.parse_args()
    count = tokenizer(args)
    settings = Settings(llm_model="bench", llm_base_url="http://127.0.0.1:9/v1", prompt=args.prompt, cache=False)
    prompt = LlmExtractor(settings).prompt
    tool = {"type": "function", "function": openai_schema(AssessmentForm).openai_schema}
    schema = json.dumps(tool, ensure_ascii=False)
    rows = []
    for folder in sorted(p for p in FORMS.iterdir() if (p / "label.json").exists()):
        label = json.loads((folder / "label.json").read_text(encoding="utf-8"))
        reading = read_file(folder / "native.pdf")
        grids = grids_of(reading.pages)
        for span, form in zip(reading.spans, label["forms"], strict=False):
            pages = render_form(span, reading.pages, grids)
            request = prompt.system + prompt.user_message(pages) + schema
            reply = json.dumps(form, ensure_ascii=False)
            row = {
                "form": f"{folder.name}[{span.index}]",
                "pages": span.last_page - span.first_page + 1,
                "indicators": len(form["indicators"]),
                "request chars": len(request),
                "reply chars": len(reply),
            }
            if count:
                row["request tokens"] = count[1](request)
                row["reply tokens"] = count[1](reply)
                row["schema tokens"] = count[1](schema)
            rows.append(row)
    names = list(rows[0])
    print(f"prompt {prompt.version} ({prompt.sha256[:8]}); tokenizer: {count[0] if count else 'none (chars only)'}")
    print(" | ".join(names))
    for row in rows:
        print(" | ".join(str(row[name]) for name in names))
    for name in names[3:]:
        values = [row[name] for row in rows]
        print(f"{name}: median {statistics.median(values):.0f}, max {max(values)}")


if __name__ == "__main__":
    main()
