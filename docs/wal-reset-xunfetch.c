/* The WAL-reset bug reached through one VFS call, on unpatched SQLite (docs/wal-reset-window.md).
 *
 * Connection C checkpoints PASSIVE twice. A VFS that is the unix VFS with only xUnfetch of
 * the main file replaced runs, at C's xUnfetch(main, 0, NULL) inside the second checkpoint,
 * one whole transaction on connection W that restarts the WAL; W then commits 300 more rows.
 * 3.51.1: the second checkpoint reports the stale frame count as checkpointed and the
 * database is malformed afterwards; 3.51.3: it checkpoints nothing and all is well.
 * `stale=0` as an argument lets C's cached header be current: then the checkpoint makes no
 * xUnfetch call at all and the hook never fires. `procs=2` puts W in a second process
 * (forked before either opens the database, driven over pipes), as walburst's workers are.
 *
 * Build against an amalgamation, e.g. the one libsqlite3-sys 0.36.0 (3.51.1) bundles:
 *   S=$(ls -d ~/.cargo/registry/src/index.crates.io-*)/libsqlite3-sys-0.36.0/sqlite3
 *   cc -O1 -w -I$S -o repro wal-reset-xunfetch.c $S/sqlite3.c -lpthread -ldl -lm
 *   ./repro /tmp/t.db; ./repro /tmp/u.db stale=0; ./repro /tmp/v.db procs=2
 * Exit status 0 when every inserted row is counted (it does not judge integrity_check).
 * A research aid, not part of walburst's build or tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "sqlite3.h"

static const char *path;
static int armed = 0, fired = 0, unfetch_calls = 0;
static sqlite3_io_methods hooked;
static const sqlite3_io_methods *real_methods;
static int (*real_open)(sqlite3_vfs*, const char*, sqlite3_file*, int, int*);

static void exec(sqlite3 *db, const char *sql) {
  char *err = 0;
  if (sqlite3_exec(db, sql, 0, 0, &err) != SQLITE_OK) { fprintf(stderr, "%s: %s\n", sql, err); exit(3); }
}

/* W's side: each command is one step of the schedule; returns the rows it committed. */
static sqlite3 *W;
static int w_run(char cmd) {
  switch (cmd) {
  case 's': /* create the database and 100 rows */
    sqlite3_open_v2(path, &W, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0);
    exec(W, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; PRAGMA synchronous=FULL;"
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); CREATE INDEX tv ON t(length(v), id);");
    for (int i = 0; i < 100; i++) exec(W, "INSERT INTO t(v) VALUES(randomblob(3000))");
    return 100;
  case 'i': exec(W, "INSERT INTO t(v) VALUES(randomblob(3000))"); return 1;
  case 'r': /* the transaction that restarts the WAL */
    exec(W, "BEGIN IMMEDIATE; INSERT INTO t(v) VALUES(randomblob(3000)); INSERT INTO t(v) VALUES(randomblob(3000)); COMMIT;");
    return 2;
  case 'm': for (int i = 0; i < 300; i++) exec(W, "INSERT INTO t(v) VALUES(randomblob(3000))"); return 300;
  case 'q': sqlite3_close(W); return 0;
  }
  return 0;
}

/* With procs=2, W's commands go to the child over a pipe and its reply says they are done. */
static int two_procs = 0, to_w = -1, from_w = -1;
static int w_do(char cmd) {
  if (!two_procs) return w_run(cmd);
  int n;
  if (write(to_w, &cmd, 1) != 1 || read(from_w, &n, sizeof n) != sizeof n) { fprintf(stderr, "W is gone\n"); exit(3); }
  return n;
}

static int my_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
  unfetch_calls++;
  if (armed && off == 0 && p == 0) {
    armed = 0; fired = 1;
    /* W: one whole transaction; it began after checkpoint 1, so it restarts the WAL. */
    w_do('r');
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
  path = argc > 1 ? argv[1] : "t.db";
  int stale = 1;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "stale=0") == 0) stale = 0;
    if (strcmp(argv[i], "procs=2") == 0) two_procs = 1;
  }
  remove(path);
  if (two_procs) {
    /* Forked before any SQLite call: the child only ever serves W's commands. */
    int a[2], b[2];
    if (pipe(a) || pipe(b)) return 3;
    pid_t pid = fork();
    if (pid == 0) {
      close(a[1]); close(b[0]);
      char cmd;
      while (read(a[0], &cmd, 1) == 1) {
        int n = w_run(cmd);
        if (write(b[1], &n, sizeof n) != sizeof n) return 3;
        if (cmd == 'q') return 0;
      }
      return 3;
    }
    close(a[0]); close(b[1]);
    to_w = a[1]; from_w = b[0];
  }
  static sqlite3_vfs hook;
  sqlite3_vfs *unix_vfs = sqlite3_vfs_find(0);
  hook = *unix_vfs; hook.zName = "hook"; real_open = unix_vfs->xOpen; hook.xOpen = my_open;
  sqlite3_vfs_register(&hook, 0);
  sqlite3 *C;
  long inserted = w_do('s');
  sqlite3_open_v2(path, &C, SQLITE_OPEN_READWRITE, "hook");
  exec(C, "PRAGMA wal_autocheckpoint=0");
  /* C reads (it opens its WAL and caches the header); then, unless told "stale=0", W commits
   * once more so that C's cached header is stale when checkpoint 1 reads it. */
  printf("C reads %ld rows\n", count(C, "SELECT count(*) FROM t"));
  if (stale) inserted += w_do('i');
  int nLog, nCkpt;
  sqlite3_wal_checkpoint_v2(C, 0, SQLITE_CHECKPOINT_PASSIVE, &nLog, &nCkpt);
  printf("checkpoint 1: log %d, checkpointed %d\n", nLog, nCkpt);
  armed = 1;
  int rc = sqlite3_wal_checkpoint_v2(C, 0, SQLITE_CHECKPOINT_PASSIVE, &nLog, &nCkpt);
  if (fired) inserted += 2;
  printf("checkpoint 2: rc %d, log %d, checkpointed %d (W's transaction ran at xUnfetch: %s; xUnfetch calls so far %d; W in %s)\n",
         rc, nLog, nCkpt, fired ? "yes" : "NO", unfetch_calls, two_procs ? "a second process" : "this process");
  inserted += w_do('m');
  sqlite3_close(C);
  w_do('q');
  if (two_procs) wait(0);
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
