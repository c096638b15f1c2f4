/*
 * sextant_host: the whole-host /proc files read every cycle (/proc/stat, meminfo, vmstat,
 * diskstats, net/dev, loadavg, pressure/{cpu,memory,io}), parsed into the caller's Float64Array.
 *
 * The layout of `out` is src/native/host-layout.ts (the HL_* defines below must stay in step);
 * the rules are byte for byte those of src/native/host-parse.ts, and a differential test holds
 * the two equal on fixtures, the live /proc and bad input. Read that file for the why of each.
 * Numbers are accumulated in double digit by digit (v = v * 10 + d) as JavaScript does, and
 * decimals are one division (digits / 10^k), so both sides compute the same IEEE values
 * (binding.gyp passes -ffp-contract=off).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include "sextant_host.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HL_STAT 0
#define HL_MEMINFO 1
#define HL_VMSTAT 2
#define HL_DISKSTATS 3
#define HL_NET_DEV 4
#define HL_LOADAVG 5
#define HL_PRESSURE 6
#define HL_KINDS 7

#define HL_MALFORMED 0
#define HL_ROWS 1
#define HL_NAMES_GEN 2
#define HL_MIN_OUT 16
#define HL_FILE_CAP (1 << 20)

#define STAT_BTIME 3
#define STAT_PROCESSES 4
#define STAT_PROCS_RUNNING 5
#define STAT_PROCS_BLOCKED 6
#define STAT_ROW_START 7
#define STAT_ROW_SIZE 9
#define STAT_MODES 8
#define MEMINFO_START 3
#define MEMINFO_KEYS 8
#define VMSTAT_START 3
#define VMSTAT_KEYS 6
#define DISK_ROW_START 3
#define DISK_ROW_SIZE 13
#define NET_ROW_START 3
#define NET_ROW_SIZE 16
#define LOAD_START 3
#define LOAD_SIZE 6
#define PSI_SOME 3
#define PSI_FULL 7
#define PSI_SIZE 11

static const char *const meminfo_keys[MEMINFO_KEYS] = {
  "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SReclaimable", "SwapTotal", "SwapFree",
};
static const char *const vmstat_keys[VMSTAT_KEYS] = { "pgpgin", "pgpgout", "pswpin", "pswpout", "pgfault", "pgmajfault" };

#define MAX_SAFE 9007199254740991.0
static const double pow10_table[16] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };

/* '\n'-separated row names: the committed set and the one being built. */
typedef struct {
  char *cur, *next;
  size_t cur_len, next_len, cur_cap, next_cap;
  double generation;
  int oom;
} names_t;

struct host_state {
  char *buf; /* HL_FILE_CAP bytes, allocated on first use */
  names_t names[HL_KINDS];
};

/* The output array and its length: every store goes through put(), so no row can overrun it. */
typedef struct {
  double *v;
  size_t len;
} out_t;

static void put(out_t *o, size_t i, double v) {
  if (i < o->len) o->v[i] = v;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_blank(unsigned char c) { return c == ' ' || c == '\t'; }

static size_t skip_blanks(const unsigned char *b, size_t i, size_t end) {
  while (i < end && is_blank(b[i])) i++;
  return i;
}

static size_t field_end(const unsigned char *b, size_t i, size_t end) {
  while (i < end && !is_blank(b[i])) i++;
  return i;
}

static size_t line_end(const unsigned char *b, size_t i, size_t n) {
  const unsigned char *nl = memchr(b + i, '\n', n - i);
  return nl ? (size_t)(nl - b) : n;
}

/* Index of c in b[i, end), or end. */
static size_t find(const unsigned char *b, size_t i, size_t end, unsigned char c) {
  const unsigned char *p = i < end ? memchr(b + i, c, end - i) : NULL;
  return p ? (size_t)(p - b) : end;
}

static double parse_uint(const unsigned char *b, size_t s, size_t e) {
  if (s >= e || e - s > 16) return NAN;
  double v = 0;
  for (size_t i = s; i < e; i++) {
    if (!is_digit(b[i])) return NAN;
    v = v * 10 + (double)(b[i] - '0');
  }
  return v <= MAX_SAFE ? v : NAN;
}

static double parse_decimal(const unsigned char *b, size_t s, size_t e, size_t max_int, size_t max_frac) {
  size_t p = s;
  double m = 0;
  while (p < e && is_digit(b[p])) m = m * 10 + (double)(b[p++] - '0');
  size_t ints = p - s;
  if (ints == 0 || ints > max_int) return NAN;
  if (p == e) return m;
  if (b[p] != '.') return NAN;
  size_t f = ++p;
  while (p < e && is_digit(b[p])) m = m * 10 + (double)(b[p++] - '0');
  size_t frac = p - f;
  if (p != e || frac == 0 || frac > max_frac) return NAN;
  return m / pow10_table[frac];
}

static int read_uints(const unsigned char *b, size_t i, size_t end, out_t *o, size_t at, int max) {
  int k = 0;
  while (k < max) {
    i = skip_blanks(b, i, end);
    if (i >= end) break;
    size_t e = field_end(b, i, end);
    double v = parse_uint(b, i, e);
    if (isnan(v)) return -1;
    put(o, at + (size_t)k++, v);
    i = e;
  }
  return k;
}

static int starts_with(const unsigned char *b, size_t i, size_t end, const char *word) {
  size_t len = strlen(word);
  return end - i >= len && memcmp(b + i, word, len) == 0;
}

static int equals(const unsigned char *b, size_t s, size_t e, const char *word) {
  size_t len = strlen(word);
  return e >= s && e - s == len && memcmp(b + s, word, len) == 0;
}

static double line_value(const unsigned char *b, size_t p, size_t end) {
  p = skip_blanks(b, p, end);
  size_t e = field_end(b, p, end);
  if (skip_blanks(b, e, end) != end) return NAN;
  return parse_uint(b, p, e);
}

/* ---- names ------------------------------------------------------------------------------ */

static void names_reset(names_t *nm) {
  nm->next_len = 0;
  nm->oom = 0;
}

static void names_add(names_t *nm, const unsigned char *b, size_t s, size_t e) {
  size_t need = nm->next_len + (e - s) + 1;
  if (nm->oom) return;
  if (need > nm->next_cap) {
    size_t cap = nm->next_cap ? nm->next_cap * 2 : 1024;
    if (cap < need) cap = need;
    char *grown = realloc(nm->next, cap);
    if (grown == NULL) {
      nm->oom = 1;
      return;
    }
    nm->next = grown;
    nm->next_cap = cap;
  }
  memcpy(nm->next + nm->next_len, b + s, e - s);
  nm->next_len += e - s;
  nm->next[nm->next_len++] = '\n';
}

static void names_commit(names_t *nm) {
  if (nm->oom) return; /* keep the previous set; the rows still count */
  if (nm->next_len == nm->cur_len && (nm->cur_len == 0 || memcmp(nm->next, nm->cur, nm->cur_len) == 0)) return;
  char *swap = nm->cur;
  size_t swap_cap = nm->cur_cap;
  nm->cur = nm->next;
  nm->cur_cap = nm->next_cap;
  nm->cur_len = nm->next_len;
  nm->next = swap;
  nm->next_cap = swap_cap;
  nm->generation++;
}

/* ---- the parsers ------------------------------------------------------------------------ */

static size_t parse_stat(const unsigned char *b, size_t n, out_t *o) {
  double malformed = 0, rows = 0;
  put(o, STAT_BTIME, NAN);
  put(o, STAT_PROCESSES, NAN);
  put(o, STAT_PROCS_RUNNING, NAN);
  put(o, STAT_PROCS_BLOCKED, NAN);
  for (size_t i = 0; i < n;) {
    size_t ls = i;
    size_t end = line_end(b, i, n);
    i = end + 1;
    if (starts_with(b, ls, end, "cpu")) {
      size_t p = ls + 3;
      while (p < end && is_digit(b[p])) p++;
      if (p == ls + 3 || p >= end || !is_blank(b[p])) continue;
      double cpu = parse_uint(b, ls + 3, p);
      size_t at = STAT_ROW_START + (size_t)rows * STAT_ROW_SIZE;
      int got = read_uints(b, p, end, o, at + 1, STAT_MODES);
      if (isnan(cpu) || got < 4) {
        malformed++;
        continue;
      }
      for (int k = got; k < STAT_MODES; k++) put(o, at + 1 + (size_t)k, 0);
      put(o, at, cpu);
      rows++;
    } else if (starts_with(b, ls, end, "btime ")) {
      double v = line_value(b, ls + 6, end);
      if (v > 0) put(o, STAT_BTIME, v);
      else malformed++;
    } else {
      size_t slot = 0, p = ls;
      if (starts_with(b, ls, end, "processes ")) slot = STAT_PROCESSES, p += 10;
      else if (starts_with(b, ls, end, "procs_running ")) slot = STAT_PROCS_RUNNING, p += 14;
      else if (starts_with(b, ls, end, "procs_blocked ")) slot = STAT_PROCS_BLOCKED, p += 14;
      if (slot == 0) continue;
      double v = line_value(b, p, end);
      if (isnan(v)) malformed++;
      else put(o, slot, v);
    }
  }
  put(o, HL_MALFORMED, malformed);
  put(o, HL_ROWS, rows);
  return STAT_ROW_START + (size_t)rows * STAT_ROW_SIZE;
}

static size_t parse_meminfo(const unsigned char *b, size_t n, out_t *o) {
  double malformed = 0;
  for (int k = 0; k < MEMINFO_KEYS; k++) put(o, MEMINFO_START + (size_t)k, NAN);
  for (size_t i = 0; i < n;) {
    size_t ls = i;
    size_t end = line_end(b, i, n);
    i = end + 1;
    if (end == ls) continue;
    /* The first ':' of the line; the TS side's indexOf may find one on a later line: also "none". */
    size_t c = find(b, ls, end, ':');
    if (c <= ls || c >= end) {
      malformed++;
      continue;
    }
    size_t vs = skip_blanks(b, c + 1, end);
    size_t ve = field_end(b, vs, end);
    double v = parse_uint(b, vs, ve);
    if (isnan(v)) {
      malformed++;
      continue;
    }
    for (int k = 0; k < MEMINFO_KEYS; k++) {
      if (!equals(b, ls, c, meminfo_keys[k])) continue;
      size_t us = skip_blanks(b, ve, end);
      put(o, MEMINFO_START + (size_t)k, equals(b, us, field_end(b, us, end), "kB") ? v * 1024 : v);
      break;
    }
  }
  put(o, HL_MALFORMED, malformed);
  put(o, HL_ROWS, 0);
  return MEMINFO_START + MEMINFO_KEYS;
}

static size_t parse_vmstat(const unsigned char *b, size_t n, out_t *o) {
  double malformed = 0;
  for (int k = 0; k < VMSTAT_KEYS; k++) put(o, VMSTAT_START + (size_t)k, NAN);
  for (size_t i = 0; i < n;) {
    size_t end = line_end(b, i, n);
    size_t s = skip_blanks(b, i, end);
    i = end + 1;
    if (s >= end || b[s] != 'p') continue;
    size_t ke = field_end(b, s, end);
    for (int k = 0; k < VMSTAT_KEYS; k++) {
      if (!equals(b, s, ke, vmstat_keys[k])) continue;
      size_t vs = skip_blanks(b, ke, end);
      double v = parse_uint(b, vs, field_end(b, vs, end));
      if (isnan(v)) malformed++;
      else put(o, VMSTAT_START + (size_t)k, v);
      break;
    }
  }
  put(o, HL_MALFORMED, malformed);
  put(o, HL_ROWS, 0);
  return VMSTAT_START + VMSTAT_KEYS;
}

static size_t parse_diskstats(const unsigned char *b, size_t n, out_t *o, names_t *nm) {
  double malformed = 0, rows = 0;
  names_reset(nm);
  for (size_t i = 0; i < n;) {
    size_t end = line_end(b, i, n);
    size_t s = skip_blanks(b, i, end);
    i = end + 1;
    if (s >= end) continue;
    size_t at = DISK_ROW_START + (size_t)rows * DISK_ROW_SIZE;
    if (read_uints(b, s, end, o, at, 2) != 2) {
      malformed++;
      continue;
    }
    size_t p = skip_blanks(b, field_end(b, skip_blanks(b, field_end(b, s, end), end), end), end);
    size_t ne = field_end(b, p, end);
    if (ne == p || read_uints(b, ne, end, o, at + 2, 11) != 11) {
      malformed++;
      continue;
    }
    names_add(nm, b, p, ne);
    rows++;
  }
  names_commit(nm);
  put(o, HL_MALFORMED, malformed);
  put(o, HL_ROWS, rows);
  put(o, HL_NAMES_GEN, nm->generation);
  return DISK_ROW_START + (size_t)rows * DISK_ROW_SIZE;
}

static size_t parse_net_dev(const unsigned char *b, size_t n, out_t *o, names_t *nm) {
  double malformed = 0, rows = 0;
  names_reset(nm);
  for (size_t i = 0; i < n;) {
    size_t end = line_end(b, i, n);
    size_t s = skip_blanks(b, i, end);
    i = end + 1;
    if (s >= end) continue;
    size_t c = find(b, s, end, ':');
    if (c >= end) {
      if (find(b, s, end, '|') >= end) malformed++;
      continue;
    }
    if (c == s || read_uints(b, c + 1, end, o, NET_ROW_START + (size_t)rows * NET_ROW_SIZE, 16) != 16) {
      malformed++;
      continue;
    }
    names_add(nm, b, s, c);
    rows++;
  }
  names_commit(nm);
  put(o, HL_MALFORMED, malformed);
  put(o, HL_ROWS, rows);
  put(o, HL_NAMES_GEN, nm->generation);
  return NET_ROW_START + (size_t)rows * NET_ROW_SIZE;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n'; }

static size_t parse_loadavg(const unsigned char *b, size_t n, out_t *o) {
  size_t p = 0;
  int ok = 1;
  for (int k = 0; k < 3; k++) {
    while (p < n && is_space(b[p])) p++;
    size_t s = p;
    while (p < n && !is_space(b[p])) p++;
    double v = parse_decimal(b, s, p, 15, 15);
    if (isnan(v) || p - s > 16) ok = 0;
    put(o, LOAD_START + (size_t)k, v);
  }
  if (!ok) {
    for (int k = LOAD_START; k < LOAD_SIZE; k++) put(o, (size_t)k, NAN);
  }
  put(o, HL_MALFORMED, ok ? 0 : 1);
  put(o, HL_ROWS, ok ? 1 : 0);
  return LOAD_SIZE;
}

static double parse_percent(const unsigned char *b, size_t s, size_t e) {
  double v = parse_decimal(b, s, e, 3, 6);
  return v <= 100 ? v : NAN;
}

static int parse_psi_line(const unsigned char *b, size_t i, size_t end, out_t *o, size_t at) {
  double avg10 = NAN, avg60 = NAN, avg300 = NAN, total = NAN;
  while (i < end) {
    i = skip_blanks(b, i, end);
    if (i >= end) break;
    size_t e = field_end(b, i, end);
    size_t eq = find(b, i, e, '=');
    if (eq >= e) return 0;
    if (equals(b, i, eq, "total")) total = parse_uint(b, eq + 1, e);
    else if (equals(b, i, eq, "avg10")) avg10 = parse_percent(b, eq + 1, e);
    else if (equals(b, i, eq, "avg60")) avg60 = parse_percent(b, eq + 1, e);
    else if (equals(b, i, eq, "avg300")) avg300 = parse_percent(b, eq + 1, e);
    i = e;
  }
  if (isnan(avg10) || isnan(avg60) || isnan(avg300) || isnan(total)) return 0;
  put(o, at, avg10);
  put(o, at + 1, avg60);
  put(o, at + 2, avg300);
  put(o, at + 3, total);
  return 1;
}

static size_t parse_pressure(const unsigned char *b, size_t n, out_t *o) {
  double malformed = 0;
  for (int k = PSI_SOME; k < PSI_SIZE; k++) put(o, (size_t)k, NAN);
  for (size_t i = 0; i < n;) {
    size_t end = line_end(b, i, n);
    size_t s = skip_blanks(b, i, end);
    i = end + 1;
    if (s >= end) continue;
    size_t ke = field_end(b, s, end);
    size_t at = equals(b, s, ke, "some") ? PSI_SOME : equals(b, s, ke, "full") ? PSI_FULL : 0;
    if (at == 0 || !parse_psi_line(b, ke, end, o, at)) malformed++;
  }
  put(o, HL_MALFORMED, malformed);
  put(o, HL_ROWS, 0);
  return PSI_SIZE;
}

/* ---- reading ---------------------------------------------------------------------------- */

static const char *host_errno_code(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case ESRCH: return "ESRCH";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case EAGAIN: return "EAGAIN";
    case EFBIG: return "EFBIG";
    default: return "EIO";
  }
}

/* Reads the whole file (until EOF) into buf; -1 with errno set on failure, EFBIG when too large. */
static ssize_t read_whole(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t total = 0;
  for (;;) {
    ssize_t r = read(fd, buf + total, cap - total);
    if (r < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (r == 0) break;
    total += (size_t)r;
    if (total == cap) {
      char probe;
      ssize_t more;
      do more = read(fd, &probe, 1);
      while (more < 0 && errno == EINTR);
      if (more != 0) {
        int saved = more > 0 ? EFBIG : errno;
        close(fd);
        errno = saved;
        return -1;
      }
      break;
    }
  }
  close(fd);
  return (ssize_t)total;
}

host_state_t *host_state_new(void) { return calloc(1, sizeof(host_state_t)); }

void host_state_free(host_state_t *h) {
  if (h == NULL) return;
  free(h->buf);
  for (int k = 0; k < HL_KINDS; k++) {
    free(h->names[k].cur);
    free(h->names[k].next);
  }
  free(h);
}

/* Longer than PATH_MAX cannot be opened anyway; the wrapper rejects NUL bytes. */
#define HOST_PATH_BUF 4200

napi_value host_read_file(napi_env env, napi_callback_info info, host_state_t *h) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "readHostFile: expected 4 arguments");
    return NULL;
  }
  uint32_t kind;
  if (napi_get_value_uint32(env, argv[0], &kind) != napi_ok || kind >= HL_KINDS) {
    napi_throw_type_error(env, NULL, "readHostFile: kind must be 0 to 6");
    return NULL;
  }
  char path[HOST_PATH_BUF];
  size_t path_len;
  if (napi_get_value_string_utf8(env, argv[1], path, sizeof path, &path_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "readHostFile: path must be a string");
    return NULL;
  }
  bool is = false;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[2], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[2], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_float64_array || len < HL_MIN_OUT) {
    napi_throw_type_error(env, NULL, "readHostFile: out must be a Float64Array of at least 16 elements");
    return NULL;
  }
  if (h->buf == NULL) {
    h->buf = malloc(HL_FILE_CAP);
    if (h->buf == NULL) {
      napi_throw_error(env, "ENOMEM", "readHostFile: out of memory");
      return NULL;
    }
  }
  ssize_t n;
  if (path_len >= HOST_PATH_BUF - 1) {
    n = -1;
    errno = ENAMETOOLONG;
  } else {
    n = read_whole(path, h->buf, HL_FILE_CAP);
  }
  napi_value result;
  if (n < 0) {
    napi_value code;
    const char *name = host_errno_code(errno);
    if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok || napi_set_element(env, argv[3], 0, code) != napi_ok) return NULL;
    napi_create_double(env, -1, &result);
    return result;
  }
  out_t o = { data, len };
  const unsigned char *b = (const unsigned char *)h->buf;
  size_t need;
  put(&o, HL_NAMES_GEN, 0);
  switch (kind) {
    case HL_STAT: need = parse_stat(b, (size_t)n, &o); break;
    case HL_MEMINFO: need = parse_meminfo(b, (size_t)n, &o); break;
    case HL_VMSTAT: need = parse_vmstat(b, (size_t)n, &o); break;
    case HL_DISKSTATS: need = parse_diskstats(b, (size_t)n, &o, &h->names[kind]); break;
    case HL_NET_DEV: need = parse_net_dev(b, (size_t)n, &o, &h->names[kind]); break;
    case HL_LOADAVG: need = parse_loadavg(b, (size_t)n, &o); break;
    default: need = parse_pressure(b, (size_t)n, &o); break;
  }
  napi_create_double(env, (double)need, &result);
  return result;
}

napi_value host_names(napi_env env, napi_callback_info info, host_state_t *h) {
  size_t argc = 1;
  napi_value argv[1];
  uint32_t kind;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_uint32(env, argv[0], &kind) != napi_ok || kind >= HL_KINDS) {
    napi_throw_type_error(env, NULL, "hostNames: kind must be 0 to 6");
    return NULL;
  }
  names_t *nm = &h->names[kind];
  napi_value arr;
  if (napi_create_array(env, &arr) != napi_ok) return NULL;
  uint32_t idx = 0;
  for (size_t s = 0; s < nm->cur_len;) {
    const char *nl = memchr(nm->cur + s, '\n', nm->cur_len - s);
    size_t e = (size_t)(nl - nm->cur);
    napi_value str;
    /* V8 decodes invalid UTF-8 with U+FFFD replacement, as Buffer#toString does. */
    if (napi_create_string_utf8(env, nm->cur + s, e - s, &str) != napi_ok || napi_set_element(env, arr, idx++, str) != napi_ok) return NULL;
    s = e + 1;
  }
  return arr;
}
