"""podinsights: podcast transcript insight pipeline."""

import logging

__version__ = "0.1.0"

logger = logging.getLogger("pipeline")
logger.addHandler(logging.NullHandler())
