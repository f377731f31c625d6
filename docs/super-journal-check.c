/*
** docs/super-journal-check.c: SQLite's 3.54.0 super-journal change checked on the released
** code (docs/super-journal-window.md). Compile against one crate's unmodified sqlite3.c:
**
**   cc -O0 -DSQLITE_THREADSAFE=0 -o sj sqlite3.c super-journal-check.c -lm
**   ./sj DIR kill          # a crash at the commit point, nothing else
**   ./sj DIR empty-super   # the same, then the super-journal truncated to 0 bytes
**   ./sj DIR zeroed-super  # the same, then its content zeroed (its length kept)
**
** A child process commits one transaction across main.db and an ATTACHed aux.db (rollback
** journal DELETE, synchronous FULL) and dies (_exit) at the commit point: when SQLite is
** about to delete the super-journal, both journals hold its name and both database files are
** written and synced. `empty-super` then truncates the super-journal to 0 bytes and
** `zeroed-super` overwrites its content with zeros, neither of which a crash of SQLite's own
** writes produces (its list is synced before any journal points at it): only a device that
** loses synced data or files mixed from outside. The parent opens main.db, then
** aux.db, each on its own connection (each opener rolls its hot journal back or not), and
** prints how many rows each holds: 1 = rolled back, 2 = the transaction kept.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/wait.h>
#include "sqlite3.h"

static sqlite3_vfs shim;
static int (*real_delete)(sqlite3_vfs *, const char *, int);

/* The commit point of a multi-database transaction is the super-journal's deletion. */
static int shim_delete(sqlite3_vfs *v, const char *z, int sync){
  if( strstr(z, "-mj") ) _exit(0);
  return real_delete(v, z, sync);
}

static void must(int rc, sqlite3 *db, const char *what){
  if( rc!=SQLITE_OK ){
    fprintf(stderr, "%s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
  }
}

static sqlite3 *open_at(const char *path){
  sqlite3 *db = 0;
  must(sqlite3_open(path, &db), db, path);
  return db;
}

static int count_rows(const char *path){
  sqlite3 *db = open_at(path);
  sqlite3_stmt *st = 0;
  int n = -1;
  must(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, 0), db, "count");
  if( sqlite3_step(st)==SQLITE_ROW ) n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

static void exec(sqlite3 *db, const char *sql){
  must(sqlite3_exec(db, sql, 0, 0, 0), db, sql);
}

static int find_super(const char *dir, char *out, size_t n){
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  while( d && (e = readdir(d))!=0 ){
    if( strstr(e->d_name, "-mj") ){
      snprintf(out, n, "%s/%s", dir, e->d_name);
      found = 1;
    }
  }
  if( d ) closedir(d);
  return found;
}

int main(int argc, char **argv){
  char main_db[512], aux_db[512], attach[600], super[1024];
  int status;
  pid_t pid;
  if( argc!=3 ){
    fprintf(stderr, "usage: %s DIR kill|empty-super|zeroed-super\n", argv[0]);
    return 2;
  }
  snprintf(main_db, sizeof main_db, "%s/main.db", argv[1]);
  snprintf(aux_db, sizeof aux_db, "%s/aux.db", argv[1]);
  snprintf(attach, sizeof attach, "ATTACH '%s' AS aux", aux_db);
  {
    sqlite3 *db = open_at(main_db);
    exec(db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL");
    exec(db, attach);
    exec(db, "PRAGMA aux.journal_mode=DELETE; PRAGMA aux.synchronous=FULL");
    exec(db, "CREATE TABLE t(x); CREATE TABLE aux.t(x);"
             "BEGIN; INSERT INTO t VALUES(1); INSERT INTO aux.t VALUES(1); COMMIT;");
    sqlite3_close(db);
  }
  pid = fork();
  if( pid==0 ){
    sqlite3 *db;
    shim = *sqlite3_vfs_find(0);
    real_delete = shim.xDelete;
    shim.zName = "shim";
    shim.xDelete = shim_delete;
    sqlite3_vfs_register(&shim, 1);
    db = open_at(main_db);
    exec(db, "PRAGMA synchronous=FULL");
    exec(db, attach);
    exec(db, "PRAGMA aux.synchronous=FULL");
    exec(db, "BEGIN; INSERT INTO t VALUES(2); INSERT INTO aux.t VALUES(2); COMMIT;");
    fprintf(stderr, "the commit finished: the crash point was not reached\n");
    _exit(3);
  }
  waitpid(pid, &status, 0);
  if( !WIFEXITED(status) || WEXITSTATUS(status)!=0 ){
    fprintf(stderr, "the child did not die at the commit point\n");
    return 1;
  }
  if( !find_super(argv[1], super, sizeof super) ){
    fprintf(stderr, "no super-journal left by the crash\n");
    return 1;
  }
  if( strcmp(argv[2], "empty-super")==0 && truncate(super, 0)!=0 ){
    perror("truncate");
    return 1;
  }
  if( strcmp(argv[2], "zeroed-super")==0 ){
    /* Same length, every byte zero: a list of empty names. */
    FILE *f = fopen(super, "r+b");
    long n, i;
    if( !f ){ perror("open super"); return 1; }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    for(i=0; i<n; i++) fputc(0, f);
    fclose(f);
  }
  {
    int m = count_rows(main_db);
    int a = count_rows(aux_db);
    printf("SQLite %s, %s: main.db %d row(s), aux.db %d row(s): %s\n",
           sqlite3_libversion(), argv[2], m, a,
           m==a ? (m==1 ? "both rolled back" : "both kept") : "TORN");
  }
  return 0;
}
