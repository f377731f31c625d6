"""The app's configuration: how an instance connects, locks and guards."""


class Config:
    """How this app instance connects and guards (the settings the field app hard-codes)."""

    def __init__(self, db_path, *, busy_timeout_ms=120000, journal_mode="wal",
                 synchronous="full", wal_autocheckpoint=1000, journal_size_limit=8388608,
                 secure_delete=True, cell_size_check=True, checkpoint_on_close=True,
                 page_size=None, guard="wal-aware", guard_at="after-commit",
                 write_lock="none", write_lock_wait="blocking", write_lock_poll_ms=50,
                 write_lock_timeout_ms=120000, write_lock_scope="transaction",
                 lock_checkpoints=False, init_lock="none", init_lock_poll_ms=50,
                 init_lock_timeout_ms=10000, retries=0, retry_jitter_ms=(20, 150),
                 create_schema=False):
        self.db_path = db_path
        self.busy_timeout_ms = busy_timeout_ms
        self.journal_mode = journal_mode
        self.synchronous = synchronous
        self.wal_autocheckpoint = wal_autocheckpoint
        self.journal_size_limit = journal_size_limit
        self.secure_delete = secure_delete
        self.cell_size_check = cell_size_check
        self.checkpoint_on_close = checkpoint_on_close
        self.page_size = page_size
        self.guard = guard
        self.guard_at = guard_at
        self.write_lock = write_lock
        self.write_lock_wait = write_lock_wait
        self.write_lock_poll_ms = write_lock_poll_ms
        self.write_lock_timeout_ms = write_lock_timeout_ms
        self.write_lock_scope = write_lock_scope
        self.lock_checkpoints = lock_checkpoints
        self.init_lock = init_lock
        self.init_lock_poll_ms = init_lock_poll_ms
        self.init_lock_timeout_ms = init_lock_timeout_ms
        self.retries = retries
        self.retry_jitter_ms = tuple(retry_jitter_ms)
        self.create_schema = create_schema
