"""The `podinsights` command: thin wrappers that parse options, call one library
function and turn its typed errors into one sentence. One module per command group,
imported in the order an episode meets them (which is the order `--help` lists them);
importing them registers their commands on `app`."""

# isort: off
from pipeline.cli import feeds, run, transcribe, analysis, query, review, report  # noqa: F401

# isort: on
from pipeline.cli.common import app

__all__ = ["app"]
