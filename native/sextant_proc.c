/*
 * sextant_proc: the hot /proc process reader of Sextant, as a Node-API addon.
 *
 * Two process functions (and, from sextant_host.c, readHostFile and hostNames; from sextant_tcp.c,
 * countTcpStates), with exactly the semantics of `ProcReader` in src/native/types.ts and of the
 * pure-TypeScript fallback in src/native/fallback.ts (a differential test holds them equal):
 *
 *   scanProcesses(procDir, capacity, pid, ppid, state, startTicks, utimeTicks, stimeTicks,
 *                 minorFaults, majorFaults, threads, vsizeBytes, rssPages, counts) -> total
 *   readProcessDetails(procDir, pid, maxCmdlineBytes) -> object | undefined
 *
 * The scan writes one row per process, in ascending pid order, into the caller's typed arrays (no
 * object per process) and reads nothing but `<pid>/stat`, opened with openat() relative to the
 * directory being listed, into one reusable buffer. Arguments are validated by the TypeScript wrapper (src/native/addon.ts);
 * this file re-checks only what would make it write out of bounds.
 *
 * Numbers are accumulated in double, digit by digit (v = v * 10 + d), because that is what the
 * JavaScript fallback does: the same IEEE operations give the same result beyond 2^53 too.
 * binding.gyp passes -ffp-contract=off so the compiler cannot fuse them into an fma.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include "sextant_host.h"
#include "sextant_tcp.h"
#include "sextant_gzip.h"
#include "sextant_pin.h"
#include "sextant_sock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /proc/<pid>/stat is about 300 bytes plus a comm of at most 64; one read of this size gets it. */
#define STAT_BUF 4096
/* status, io and cgroup: what we need sits in the first few hundred bytes; 16 KiB bounds them. */
#define TEXT_BUF 16384
/* readlink of exe: the kernel renders the path into at most a page. */
#define LINK_BUF 4096
/* A procDir longer than this cannot be opened anyway (PATH_MAX); room for "/<pid>/cmdline". */
#define DIR_BUF 4200
#define MAX_PATH_LEN 4096

/* Per-instance scratch (one per Node environment, so worker threads do not share buffers). */
typedef struct {
  char stat[STAT_BUF];
  char text[TEXT_BUF];
  char link[LINK_BUF];
  char dir[DIR_BUF];
  char *cmd;
  size_t cmd_cap;
  int32_t *pids;
  size_t pids_cap;
  /* The whole-host file parsers' buffer and row names (sextant_host.c). */
  host_state_t *host;
  /* The netlink TCP counter's receive buffer (sextant_tcp.c). */
  tcp_state_t *tcp;
  /* The gateway's reused gzip stream (sextant_gzip.c). */
  gzip_state_t *gzip;
} scratch_t;

typedef struct {
  const char *comm;
  size_t comm_len;
  unsigned char state;
  double ppid, minflt, majflt, utime, stime, threads, start, vsize, rss;
} stat_row_t;

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/*
 * Parses a run of decimal digits at *p that ends at `end`, a space or a newline. Fails on an
 * empty run, a sign or any other byte, so a malformed field never passes as a number.
 */
static int parse_number(const char **p, const char *end, double *out) {
  const char *s = *p;
  double v = 0;
  if (s >= end || !is_digit(*s)) return 0;
  while (s < end && is_digit(*s)) {
    v = v * 10 + (double)(*s - '0');
    s++;
  }
  if (s < end && *s != ' ' && *s != '\n') return 0;
  *out = v;
  *p = s;
  return 1;
}

static int is_state_letter(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/*
 * `pid (comm) S ppid … rss …`: comm runs from the first '(' to the LAST ')' (it may hold spaces
 * and parentheses); fields after it are single-space separated. Returns 0 when malformed.
 */
static int parse_stat(const char *buf, size_t n, stat_row_t *row) {
  const char *end = buf + n;
  const char *p = buf;
  double pid;
  if (!parse_number(&p, end, &pid)) return 0;
  if (end - p < 2 || p[0] != ' ' || p[1] != '(') return 0;
  const char *open = p + 1;
  const char *close = memrchr(open + 1, ')', (size_t)(end - (open + 1)));
  if (close == NULL) return 0;
  row->comm = open + 1;
  row->comm_len = (size_t)(close - (open + 1));
  if (end - close < 4 || close[1] != ' ' || !is_state_letter((unsigned char)close[2]) || close[3] != ' ') return 0;
  row->state = (unsigned char)close[2];
  p = close + 4;
  for (int field = 4; field <= 24; field++) {
    double *dst = NULL;
    switch (field) {
      case 4: dst = &row->ppid; break;
      case 10: dst = &row->minflt; break;
      case 12: dst = &row->majflt; break;
      case 14: dst = &row->utime; break;
      case 15: dst = &row->stime; break;
      case 20: dst = &row->threads; break;
      case 22: dst = &row->start; break;
      case 23: dst = &row->vsize; break;
      case 24: dst = &row->rss; break;
      default: break;
    }
    if (dst != NULL) {
      if (!parse_number(&p, end, dst)) return 0;
    } else {
      const char *s = p;
      while (p < end && *p != ' ' && *p != '\n') p++;
      if (p == s) return 0;
    }
    if (field < 24) {
      if (p >= end || *p != ' ') return 0;
      p++;
    }
  }
  /* Int32Array columns: a value that does not fit is a malformed row, not a wrapped number. */
  if (row->ppid > 2147483647.0 || row->threads > 2147483647.0) return 0;
  return 1;
}

/* A directory entry that names a process: digits, no leading zero, 1 ≤ value ≤ 2^31 − 1. */
static int pid_name(const char *name, int32_t *pid_out) {
  size_t len = 0;
  double v = 0;
  if (name[0] == '0') return 0;
  while (is_digit(name[len])) {
    v = v * 10 + (double)(name[len] - '0');
    if (++len > 10) return 0;
  }
  if (len == 0 || name[len] != '\0' || v > 2147483647.0) return 0;
  *pid_out = (int32_t)v;
  return 1;
}

/* Decimal digits of a positive pid into out (no NUL); snprintf costs more than the syscall's share. */
static size_t format_pid(char *out, int32_t p) {
  char tmp[12];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + p % 10);
    p /= 10;
  } while (p > 0);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

static int cmp_pid(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* One read() into buf: what the kernel renders for a /proc file in one go. -1 on error. */
static ssize_t read_once_at(int dirfd, const char *name, char *buf, size_t cap) {
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap);
  close(fd);
  return n;
}

/* Reads until EOF or `cap` bytes. -1 on any error (the process went away, no permission). */
static ssize_t read_full_at(int dirfd, const char *name, char *buf, size_t cap) {
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t total = 0;
  while (total < cap) {
    ssize_t n = read(fd, buf + total, cap - total);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    if (n == 0) break;
    total += (size_t)n;
  }
  close(fd);
  return (ssize_t)total;
}

static const char *errno_code(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTDIR: return "ENOTDIR";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EIO: return "EIO";
    default: return "EIO";
  }
}

/* ---- Node-API plumbing ------------------------------------------------------------------ */

static void free_scratch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  scratch_t *s = data;
  free(s->cmd);
  free(s->pids);
  host_state_free(s->host);
  tcp_state_free(s->tcp);
  gzip_state_free(s->gzip);
  free(s);
}

static scratch_t *scratch(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return data;
}

/* Copies a JS string argument into buf (NUL-terminated). Returns its length, or -1 when too long. */
static int get_path(napi_env env, napi_value v, char *buf, size_t cap, size_t *len) {
  if (napi_get_value_string_utf8(env, v, buf, cap, len) != napi_ok) {
    napi_throw_type_error(env, NULL, "procDir must be a string");
    return -1;
  }
  return 0;
}

static void *typed_array(napi_env env, napi_value v, napi_typedarray_type want, size_t min_len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok) return NULL;
  if (type != want || length < min_len) return NULL;
  return data;
}

static napi_value scan_processes(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 14) {
    napi_throw_type_error(env, NULL, "scanProcesses: expected 14 arguments");
    return NULL;
  }
  scratch_t *s = scratch(env);
  if (s == NULL) return NULL;
  size_t dir_len;
  if (get_path(env, argv[0], s->dir, DIR_BUF, &dir_len) < 0) return NULL;
  uint32_t cap32;
  if (napi_get_value_uint32(env, argv[1], &cap32) != napi_ok) {
    napi_throw_type_error(env, NULL, "scanProcesses: capacity must be a number");
    return NULL;
  }
  size_t cap = cap32;
  int32_t *pid = typed_array(env, argv[2], napi_int32_array, cap);
  int32_t *ppid = typed_array(env, argv[3], napi_int32_array, cap);
  uint8_t *state = typed_array(env, argv[4], napi_uint8_array, cap);
  double *start = typed_array(env, argv[5], napi_float64_array, cap);
  double *utime = typed_array(env, argv[6], napi_float64_array, cap);
  double *stime = typed_array(env, argv[7], napi_float64_array, cap);
  double *minflt = typed_array(env, argv[8], napi_float64_array, cap);
  double *majflt = typed_array(env, argv[9], napi_float64_array, cap);
  int32_t *threads = typed_array(env, argv[10], napi_int32_array, cap);
  double *vsize = typed_array(env, argv[11], napi_float64_array, cap);
  double *rss = typed_array(env, argv[12], napi_float64_array, cap);
  int32_t *counts = typed_array(env, argv[13], napi_int32_array, 1);
  /* Zero-length typed arrays may have a NULL data pointer; only a non-zero capacity needs them. */
  if (cap > 0 && (!pid || !ppid || !state || !start || !utime || !stime || !minflt || !majflt || !threads || !vsize || !rss)) {
    napi_throw_type_error(env, NULL, "scanProcesses: table columns have the wrong type or length");
    return NULL;
  }
  if (!counts) {
    napi_throw_type_error(env, NULL, "scanProcesses: counts must be an Int32Array of length 1");
    return NULL;
  }

  if (dir_len >= MAX_PATH_LEN) {
    errno = ENAMETOOLONG;
  }
  DIR *d = dir_len >= MAX_PATH_LEN ? NULL : opendir(s->dir);
  if (d == NULL) {
    const char *code = errno_code(errno);
    char msg[DIR_BUF + 64];
    snprintf(msg, sizeof msg, "cannot read process directory %s: %s", s->dir, code);
    napi_throw_error(env, code, msg);
    return NULL;
  }
  /*
   * List first, then read, in ascending pid order: /proc already lists that way (the sort is
   * skipped), and a fake tree in a tmp dir reads the same in both readers (the fallback cannot
   * use readdir order: Node's Dir stats an entry the kernel reports as DT_UNKNOWN, which /proc
   * does for a process exiting under it, and throws ENOENT).
   */
  size_t npids = 0;
  int sorted = 1;
  struct dirent *e;
  int32_t pid_value;
  while ((e = readdir(d)) != NULL) {
    if (!pid_name(e->d_name, &pid_value)) continue;
    if (npids == s->pids_cap) {
      size_t grown_cap = s->pids_cap ? s->pids_cap * 2 : 1024;
      int32_t *grown = realloc(s->pids, grown_cap * sizeof *grown);
      if (grown == NULL) {
        closedir(d);
        napi_throw_error(env, "ENOMEM", "scanProcesses: out of memory for the pid list");
        return NULL;
      }
      s->pids = grown;
      s->pids_cap = grown_cap;
    }
    if (npids > 0 && s->pids[npids - 1] > pid_value) sorted = 0;
    s->pids[npids++] = pid_value;
  }
  if (!sorted) qsort(s->pids, npids, sizeof *s->pids, cmp_pid);

  int dfd = dirfd(d);
  size_t total = 0;
  int32_t malformed = 0;
  char name[32];
  stat_row_t row;
  for (size_t i = 0; i < npids; i++) {
    int32_t p = s->pids[i];
    size_t len = format_pid(name, p);
    memcpy(name + len, "/stat", 6);
    ssize_t n = read_once_at(dfd, name, s->stat, STAT_BUF);
    if (n < 0) continue; /* gone mid-scan (ENOENT/ESRCH) or unreadable: skipped */
    if (!parse_stat(s->stat, (size_t)n, &row)) {
      malformed++;
      continue;
    }
    if (total < cap) {
      pid[total] = p;
      ppid[total] = (int32_t)row.ppid;
      state[total] = row.state;
      start[total] = row.start;
      utime[total] = row.utime;
      stime[total] = row.stime;
      minflt[total] = row.minflt;
      majflt[total] = row.majflt;
      threads[total] = (int32_t)row.threads;
      vsize[total] = row.vsize;
      rss[total] = row.rss;
    }
    total++;
  }
  closedir(d);
  counts[0] = malformed;
  napi_value result;
  napi_create_double(env, (double)total, &result);
  return result;
}

/* ---- readProcessDetails ---------------------------------------------------------------- */

static napi_status set_string(napi_env env, napi_value obj, const char *key, const char *buf, size_t len) {
  napi_value v;
  /* V8 decodes invalid UTF-8 with U+FFFD replacement, as Buffer#toString and TextDecoder do. */
  napi_status st = napi_create_string_utf8(env, buf, len, &v);
  if (st != napi_ok) return st;
  return napi_set_named_property(env, obj, key, v);
}

static napi_status set_undefined(napi_env env, napi_value obj, const char *key) {
  napi_value v;
  napi_status st = napi_get_undefined(env, &v);
  if (st != napi_ok) return st;
  return napi_set_named_property(env, obj, key, v);
}

static napi_status set_number(napi_env env, napi_value obj, const char *key, double d) {
  napi_value v;
  napi_status st = napi_create_double(env, d, &v);
  if (st != napi_ok) return st;
  return napi_set_named_property(env, obj, key, v);
}

/* Finds the line starting with `key` (at offset 0 or after '\n'); returns the byte after it. */
static const char *find_line(const char *buf, size_t n, const char *key) {
  size_t klen = strlen(key);
  size_t i = 0;
  while (i + klen <= n) {
    if (memcmp(buf + i, key, klen) == 0) return buf + i + klen;
    const char *nl = memchr(buf + i, '\n', n - i);
    if (nl == NULL) return NULL;
    i = (size_t)(nl - buf) + 1;
  }
  return NULL;
}

/* `Key:<spaces or tabs>digits` followed by whitespace or the end. */
static int line_number(const char *buf, size_t n, const char *key, double *out) {
  const char *end = buf + n;
  const char *p = find_line(buf, n, key);
  if (p == NULL) return 0;
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  const char *s = p;
  double v = 0;
  while (p < end && is_digit(*p)) {
    v = v * 10 + (double)(*p - '0');
    p++;
  }
  if (p == s) return 0;
  if (p < end && *p != ' ' && *p != '\t' && *p != '\n') return 0;
  *out = v;
  return 1;
}

/*
 * /proc/<pid>/cgroup lines are `hierarchy:controllers:path`. The cgroup v2 line `0::path` wins;
 * otherwise the first well-formed v1 line. An empty path counts as absent.
 */
static int cgroup_path(const char *buf, size_t n, const char **out, size_t *out_len) {
  const char *end = buf + n;
  const char *line = buf;
  const char *v1 = NULL;
  size_t v1_len = 0;
  while (line < end) {
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    const char *le = nl ? nl : end;
    if (le - line >= 3 && line[0] == '0' && line[1] == ':' && line[2] == ':') {
      if (le - line > 3) {
        *out = line + 3;
        *out_len = (size_t)(le - line - 3);
        return 1;
      }
    } else if (v1 == NULL) {
      const char *p = line;
      while (p < le && is_digit(*p)) p++;
      if (p > line && p < le && *p == ':') {
        const char *c2 = memchr(p + 1, ':', (size_t)(le - (p + 1)));
        if (c2 != NULL && le - (c2 + 1) > 0) {
          v1 = c2 + 1;
          v1_len = (size_t)(le - v1);
        }
      }
    }
    line = nl ? nl + 1 : end;
  }
  if (v1 == NULL) return 0;
  *out = v1;
  *out_len = v1_len;
  return 1;
}

static int count_fds(int pfd) {
  int fd = openat(pfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return -1;
  }
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *nm = e->d_name;
    if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0'))) continue;
    count++;
  }
  closedir(d);
  return count;
}

#define CHECK(call)                   \
  do {                                \
    if ((call) != napi_ok) goto fail; \
  } while (0)

static napi_value read_process_details(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "readProcessDetails: expected 3 arguments");
    return NULL;
  }
  scratch_t *s = scratch(env);
  if (s == NULL) return NULL;
  size_t dir_len;
  if (get_path(env, argv[0], s->dir, DIR_BUF, &dir_len) < 0) return NULL;
  int32_t pid;
  uint32_t max_cmd;
  if (napi_get_value_int32(env, argv[1], &pid) != napi_ok || napi_get_value_uint32(env, argv[2], &max_cmd) != napi_ok) {
    napi_throw_type_error(env, NULL, "readProcessDetails: pid and maxCmdlineBytes must be numbers");
    return NULL;
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  if (dir_len >= MAX_PATH_LEN) return undef;
  snprintf(s->dir + dir_len, DIR_BUF - dir_len, "/%d", (int)pid);
  int pfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0) return undef;

  stat_row_t row;
  ssize_t n = read_once_at(pfd, "stat", s->stat, STAT_BUF);
  if (n < 0 || !parse_stat(s->stat, (size_t)n, &row)) {
    close(pfd);
    return undef;
  }

  napi_value obj;
  CHECK(napi_create_object(env, &obj));
  CHECK(set_string(env, obj, "comm", row.comm, row.comm_len));

  /* cmdline: read cap + 1 bytes to learn whether it was cut. */
  size_t want = (size_t)max_cmd + 1;
  if (s->cmd_cap < want) {
    char *grown = realloc(s->cmd, want);
    if (grown == NULL) {
      close(pfd);
      napi_throw_error(env, "ENOMEM", "readProcessDetails: out of memory for cmdline");
      return NULL;
    }
    s->cmd = grown;
    s->cmd_cap = want;
  }
  n = read_full_at(pfd, "cmdline", s->cmd, want);
  int truncated = 0;
  size_t len = 0;
  if (n >= 0) {
    len = (size_t)n;
    if (len > max_cmd) {
      truncated = 1;
      len = max_cmd;
    }
    /* Drop trailing NULs (argv's terminator, and the padding of processes that rewrite argv). */
    while (len > 0 && s->cmd[len - 1] == '\0') len--;
    for (size_t i = 0; i < len; i++) {
      if (s->cmd[i] == '\0') s->cmd[i] = ' ';
    }
  }
  if (len > 0) {
    CHECK(set_string(env, obj, "cmdline", s->cmd, len));
  } else {
    CHECK(set_undefined(env, obj, "cmdline"));
  }
  napi_value flag;
  CHECK(napi_get_boolean(env, truncated != 0, &flag));
  CHECK(napi_set_named_property(env, obj, "cmdlineTruncated", flag));

  ssize_t ln = readlinkat(pfd, "exe", s->link, LINK_BUF);
  if (ln >= 0) {
    CHECK(set_string(env, obj, "exe", s->link, (size_t)ln));
  } else {
    CHECK(set_undefined(env, obj, "exe"));
  }

  double uid;
  n = read_full_at(pfd, "status", s->text, TEXT_BUF);
  if (n >= 0 && line_number(s->text, (size_t)n, "Uid:", &uid)) {
    CHECK(set_number(env, obj, "uid", uid));
  } else {
    CHECK(set_undefined(env, obj, "uid"));
  }

  const char *cg;
  size_t cg_len;
  n = read_full_at(pfd, "cgroup", s->text, TEXT_BUF);
  if (n >= 0 && cgroup_path(s->text, (size_t)n, &cg, &cg_len)) {
    CHECK(set_string(env, obj, "cgroup", cg, cg_len));
  } else {
    CHECK(set_undefined(env, obj, "cgroup"));
  }

  double rb, wb;
  n = read_full_at(pfd, "io", s->text, TEXT_BUF);
  if (n >= 0 && line_number(s->text, (size_t)n, "read_bytes:", &rb) && line_number(s->text, (size_t)n, "write_bytes:", &wb)) {
    napi_value io;
    CHECK(napi_create_object(env, &io));
    CHECK(set_number(env, io, "readBytes", rb));
    CHECK(set_number(env, io, "writeBytes", wb));
    CHECK(napi_set_named_property(env, obj, "io", io));
  } else {
    CHECK(set_undefined(env, obj, "io"));
  }

  int fds = count_fds(pfd);
  if (fds >= 0) {
    CHECK(set_number(env, obj, "openFds", fds));
  } else {
    CHECK(set_undefined(env, obj, "openFds"));
  }
  close(pfd);
  return obj;

fail:
  close(pfd);
  return NULL;
}

/* ---- whole-host files (sextant_host.c) --------------------------------------------------- */

static napi_value read_host_file(napi_env env, napi_callback_info info) {
  scratch_t *s = scratch(env);
  return s == NULL ? NULL : host_read_file(env, info, s->host);
}

static napi_value read_host_names(napi_env env, napi_callback_info info) {
  scratch_t *s = scratch(env);
  return s == NULL ? NULL : host_names(env, info, s->host);
}

/* ---- TCP states over netlink (sextant_tcp.c) --------------------------------------------- */

static napi_value count_tcp_states(napi_env env, napi_callback_info info) {
  scratch_t *s = scratch(env);
  return s == NULL ? NULL : tcp_count_states(env, info, s->tcp);
}

/* ---- gzip bodies (sextant_gzip.c) ------------------------------------------------------- */

static napi_value gunzip_into(napi_env env, napi_callback_info info) {
  scratch_t *s = scratch(env);
  return s == NULL ? NULL : gzip_inflate_into(env, info, s->gzip);
}

NAPI_MODULE_INIT() {
  scratch_t *s = calloc(1, sizeof *s);
  if (s != NULL && ((s->host = host_state_new()) == NULL || (s->tcp = tcp_state_new()) == NULL || (s->gzip = gzip_state_new()) == NULL)) {
    host_state_free(s->host);
    gzip_state_free(s->gzip);
    free(s);
    s = NULL;
  }
  if (s == NULL) {
    napi_throw_error(env, "ENOMEM", "sextant_proc: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, s, free_scratch, NULL) != napi_ok) {
    host_state_free(s->host);
    tcp_state_free(s->tcp);
    gzip_state_free(s->gzip);
    free(s);
    return NULL;
  }
  napi_property_descriptor props[] = {
    { "scanProcesses", NULL, scan_processes, NULL, NULL, NULL, napi_enumerable, NULL },
    { "readProcessDetails", NULL, read_process_details, NULL, NULL, NULL, napi_enumerable, NULL },
    { "readHostFile", NULL, read_host_file, NULL, NULL, NULL, napi_enumerable, NULL },
    { "hostNames", NULL, read_host_names, NULL, NULL, NULL, napi_enumerable, NULL },
    { "countTcpStates", NULL, count_tcp_states, NULL, NULL, NULL, napi_enumerable, NULL },
    { "peerCredentials", NULL, sock_peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL },
    { "gunzipInto", NULL, gunzip_into, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pinStart", NULL, pin_start, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pinTake", NULL, pin_take, NULL, NULL, NULL, napi_enumerable, NULL },
    { "pinStop", NULL, pin_stop, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
