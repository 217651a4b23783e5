"""Infrastructure every stage shares: database, job queue, events, background tasks, rate limits.

Imports nothing of ours but the settings, so any stage may use it and it never pulls a stage in.
"""
