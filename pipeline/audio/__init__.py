"""Audio in: any container decoded with PyAV into 16 kHz mono windows (decode), and one
Silero VAD pass per window shared by transcription and diarization (vad).
"""
