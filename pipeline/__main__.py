"""``python -m pipeline`` runs the CLI, like the ``jixiao`` console script."""

from pipeline.cli import app

app(prog_name="jixiao")
