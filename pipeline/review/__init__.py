"""The researcher's loop: people's codes on the transcripts (codings.py), the review queue
(queue.py) and agreement between coders (agreement.py). The machine is one coder among
others; its codes are the analysis stage's theme_mentions, never written here."""
