"""Reading the corpus: search with filters and links to the moment (search), counts and
breakdowns of themes and people (reports), and transcripts exported as SRT, WebVTT, JSON
or Markdown (export). Nothing here writes.
"""
