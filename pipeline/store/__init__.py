"""The database: one SQLite file, its schema and migrations (db), and the state machine of
episodes through the stages (episodes: new, downloaded, transcribed, analysed, failed,
with retries).
"""
