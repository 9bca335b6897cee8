"""Datasette over the database, read-only on 127.0.0.1, with the project's metadata, canned
queries and dashboard (app, site/).
"""
