"""Speech to timed text: the stage (stage: transcripts and segments tables), the two
Whisper engines (engines), where their weights come from (weights, convert), the
hallucination guard (guard: segments.quality), second decodings of what looped
(recovery), the words Whisper is told to expect (vocabulary), and publisher transcripts
used instead of Whisper (publisher).
"""
