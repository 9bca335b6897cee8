"""Who spoke when, and who they are: speaker turns from voice embeddings with a confidence
per turn (diarize: segments.speaker, segments.speaker_confidence), and names on voices
with a voiceprint registry (naming: episode_speakers, voiceprints).
"""
