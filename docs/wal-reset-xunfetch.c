/* The WAL-reset bug reached through one VFS call, on unpatched SQLite (docs/wal-reset-window.md).
 *
 * Connection C checkpoints PASSIVE twice. A VFS that is the unix VFS with only xUnfetch of
 * the main file replaced runs, at C's xUnfetch(main, 0, NULL) inside the second checkpoint,
 * one whole transaction on connection W that restarts the WAL; W then commits 300 more rows.
 * 3.51.1: the second checkpoint reports the stale frame count as checkpointed and the
 * database is malformed afterwards; 3.51.3: it checkpoints nothing and all is well.
 * `stale=0` as the second argument lets C's cached header be current: then the checkpoint
 * makes no xUnfetch call at all and the hook never fires.
 *
 * Build against an amalgamation, e.g. the one libsqlite3-sys 0.36.0 (3.51.1) bundles:
 *   S=$(ls -d ~/.cargo/registry/src/index.crates.io-*)/libsqlite3-sys-0.36.0/sqlite3
 *   cc -O1 -w -I$S -o repro wal-reset-xunfetch.c $S/sqlite3.c -lpthread -ldl -lm
 *   ./repro /tmp/t.db; ./repro /tmp/u.db stale=0
 * Exit status 0 when every inserted row is counted (it does not judge integrity_check).
 * A research aid, not part of walburst's build or tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite3.h"

static sqlite3 *W;
static int armed = 0, fired = 0, unfetch_calls = 0;
static sqlite3_io_methods hooked;
static const sqlite3_io_methods *real_methods;
static int (*real_open)(sqlite3_vfs*, const char*, sqlite3_file*, int, int*);

static void exec(sqlite3 *db, const char *sql) {
  char *err = 0;
  if (sqlite3_exec(db, sql, 0, 0, &err) != SQLITE_OK) { fprintf(stderr, "%s: %s\n", sql, err); exit(3); }
}

static int my_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
  unfetch_calls++;
  if (armed && off == 0 && p == 0) {
    armed = 0; fired = 1;
    /* W: one whole transaction; it began after checkpoint 1, so it restarts the WAL. */
    exec(W, "BEGIN IMMEDIATE; INSERT INTO t(v) VALUES(randomblob(3000)); INSERT INTO t(v) VALUES(randomblob(3000)); COMMIT;");
  }
  return real_methods->xUnfetch(f, off, p);
}

static int my_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out) {
  int rc = real_open(v, name, f, flags, out);
  if (rc == SQLITE_OK && f->pMethods && (flags & SQLITE_OPEN_MAIN_DB)) {
    if (!real_methods) { real_methods = f->pMethods; hooked = *f->pMethods; hooked.xUnfetch = my_unfetch; }
    if (f->pMethods == real_methods) f->pMethods = &hooked;
  }
  return rc;
}

static long count(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s; long n = -1;
  sqlite3_prepare_v2(db, sql, -1, &s, 0);
  if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s); return n;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "t.db";
  static sqlite3_vfs hook;
  sqlite3_vfs *unix_vfs = sqlite3_vfs_find(0);
  hook = *unix_vfs; hook.zName = "hook"; real_open = unix_vfs->xOpen; hook.xOpen = my_open;
  sqlite3_vfs_register(&hook, 0);
  remove(path);
  sqlite3 *C;
  sqlite3_open_v2(path, &W, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0);
  exec(W, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; PRAGMA synchronous=FULL;"
          "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); CREATE INDEX tv ON t(length(v), id);");
  long inserted = 0;
  for (int i = 0; i < 100; i++) { exec(W, "INSERT INTO t(v) VALUES(randomblob(3000))"); inserted++; }
  sqlite3_open_v2(path, &C, SQLITE_OPEN_READWRITE, "hook");
  exec(C, "PRAGMA wal_autocheckpoint=0");
  /* C reads (it opens its WAL and caches the header); then, unless told "stale=0", W commits
   * once more so that C's cached header is stale when checkpoint 1 reads it. */
  printf("C reads %ld rows\n", count(C, "SELECT count(*) FROM t"));
  int stale = !(argc > 2 && strcmp(argv[2], "stale=0") == 0);
  if (stale) { exec(W, "INSERT INTO t(v) VALUES(randomblob(3000))"); inserted++; }
  int nLog, nCkpt;
  sqlite3_wal_checkpoint_v2(C, 0, SQLITE_CHECKPOINT_PASSIVE, &nLog, &nCkpt);
  printf("checkpoint 1: log %d, checkpointed %d\n", nLog, nCkpt);
  armed = 1;
  int rc = sqlite3_wal_checkpoint_v2(C, 0, SQLITE_CHECKPOINT_PASSIVE, &nLog, &nCkpt);
  if (fired) inserted += 2;
  printf("checkpoint 2: rc %d, log %d, checkpointed %d (W's transaction ran at xUnfetch: %s; xUnfetch calls so far %d)\n",
         rc, nLog, nCkpt, fired ? "yes" : "NO", unfetch_calls);
  for (int i = 0; i < 300; i++) { exec(W, "INSERT INTO t(v) VALUES(randomblob(3000))"); inserted++; }
  sqlite3_close(C); sqlite3_close(W);
  sqlite3 *V; sqlite3_open_v2(path, &V, SQLITE_OPEN_READWRITE, 0);
  long rows = count(V, "SELECT count(*) FROM t");
  sqlite3_stmt *s; sqlite3_prepare_v2(V, "PRAGMA integrity_check", -1, &s, 0);
  printf("SQLite %s: inserted %ld, rows %ld; integrity_check:", sqlite3_libversion(), inserted, rows);
  int lines = 0;
  while (sqlite3_step(s) == SQLITE_ROW && lines++ < 4) printf(" %s |", sqlite3_column_text(s, 0));
  printf("\n");
  sqlite3_finalize(s); sqlite3_close(V);
  return rows == inserted ? 0 : 1;
}
