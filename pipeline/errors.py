"""The one base class for errors a user can act on.

The CLI turns any PipelineError into its message on stderr and a non-zero
exit; anything else is a bug and keeps its traceback.
"""


class PipelineError(Exception):
    """A user mistake or bad input; the message is one sentence."""
