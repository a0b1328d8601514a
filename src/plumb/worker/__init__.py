"""The worker: delivers outbox messages at least once and runs periodic jobs.

- ``claims``: claiming due messages under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and
  recording each attempt's outcome, with backoff (``backoff``) and dead letters.
- ``email`` and ``webhooks``: the two channels (SMTP; Standard Webhooks over HTTP).
- ``scheduler``: named jobs run every N seconds, one run at a time across workers.
- ``runner``: the loop of ``plumb worker`` and the thread ``plumb serve`` runs on SQLite.
"""
