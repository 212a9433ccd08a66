"""The offline stand-in for AWS and Neon: moto behind our own WSGI front door, plus embedded PostgreSQL.

Not shipped in the collection build. Start it with ``python -m sandbox up``.
"""
