"""The compliance workspace: `badgekit inbox` (web app, API, receiver) and evidence export.

Meetings received by `gateway receive` (or by `badgekit inbox serve --mqtt`, which runs
the same receiver) are filed into one database (SQLite or PostgreSQL, one schema with
Alembic migrations) and a content-addressed audio store. Reviewers and managers work on
them in a browser; every review action goes into a hash-chained audit log; one meeting
or one case is exported as an evidence zip that `badgekit evidence verify` checks offline.
"""

__all__: list[str] = []
