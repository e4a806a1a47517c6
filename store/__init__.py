"""The app store: one transactional store for users' saved analyses, the query log, and what
later features add. SQLite in WAL mode by default, PostgreSQL through the same code.

>>> from store import QueryLogEntry, log_query, open_store, recent_queries
>>> with open_store("sqlite://") as store:
...     log_query(store, QueryLogEntry("alice", 'SELECT "Sales"."Revenue" FROM "Retail"'))
...     len(recent_queries(store))
1
"""

from store.analyses import (
    AnalysisExists,
    AnalysisNotFound,
    Folder,
    SavedAnalysis,
    all_analyses,
    delete_analysis,
    get_analysis,
    list_analyses,
    mark_run,
    rename_analysis,
    save_analysis,
)
from store.connect import Store, connect_store, default_url, open_store
from store.migrate import LATEST_VERSION, MIGRATIONS, Migration, StoreTooNew, migrate
from store.query_log import (
    QueryLogEntry,
    QueryRoute,
    log_queries,
    log_query,
    logged_request,
    recent_queries,
)
from store.retry import RetryPolicy, StoreBusy

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "AnalysisExists",
    "AnalysisNotFound",
    "Folder",
    "Migration",
    "QueryLogEntry",
    "QueryRoute",
    "RetryPolicy",
    "SavedAnalysis",
    "Store",
    "StoreBusy",
    "StoreTooNew",
    "all_analyses",
    "connect_store",
    "default_url",
    "delete_analysis",
    "get_analysis",
    "list_analyses",
    "log_queries",
    "log_query",
    "logged_request",
    "mark_run",
    "migrate",
    "open_store",
    "recent_queries",
    "rename_analysis",
    "save_analysis",
]
