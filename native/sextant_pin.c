/*
 * Docker's json-file driver at full speed creates a log file, renames it down the max-file chain
 * and deletes it within a few hundred milliseconds. The agent keeps a file's lines by holding a
 * descriptor on it, and its JavaScript opens files from an fs.watch callback, which runs only
 * when the event loop gets to it: on a loaded node (a busy neighbour, a GC, a long turn) that was
 * measured at 140 ms and more, and whole files came and went meanwhile (test/e2e/
 * logs-rotation-real.test.ts under load). This thread does the one thing that cannot wait: it
 * blocks on its own inotify descriptor and opens each `<id>-json.log` as the engine creates it.
 * Everything else (which file it is now, where to read from, its resource) stays in JavaScript
 * (src/sources/logs/docker-dir-pins.ts), which takes the descriptors with pinTake().
 *
 * What is opened: a plain file (O_NOFOLLOW, then S_ISREG) named exactly `<id>-json.log` in a
 * directory named `<id>` (64 hex digits) right below a root. Directories that exist at pinStart
 * are watched, not listed (their files are the first scan's business); one created later is
 * listed once its watch is set, for a log file created in between. At most MAX_PINS descriptors
 * wait to be taken; beyond that nothing more is opened (the caller's own pass and rescans remain).
 */
#define _GNU_SOURCE
#include "sextant_pin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PINS 1024
#define ID_LEN 64
#define LOG_SUFFIX "-json.log"

typedef struct {
  int wd;
  int root;
  char *path;
} watch_t;

typedef struct {
  int fd;
  char *path;
} pin_t;

typedef struct {
  int ifd;  /* inotify */
  int sfd;  /* eventfd: written once to stop the thread */
  pthread_t thread;
  int running;
  /* Owned by the thread once it runs (pinStart fills them before). */
  watch_t *watches;
  size_t nwatches, capwatches;
  /* The queue pinTake drains, under mu. */
  pthread_mutex_t mu;
  pin_t pins[MAX_PINS];
  size_t npins;
} pinner_t;

static int is_id(const char *name) {
  size_t i = 0;
  for (; name[i] != '\0'; i++) {
    char c = name[i];
    if (i >= ID_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
  }
  return i == ID_LEN;
}

/* `name` is `<id>-json.log` for the container directory `dir` (its last segment being `<id>`). */
static int is_live_log(const char *dir, const char *name) {
  const char *slash = strrchr(dir, '/');
  const char *id = slash == NULL ? dir : slash + 1;
  return is_id(id) && strncmp(name, id, ID_LEN) == 0 && strcmp(name + ID_LEN, LOG_SUFFIX) == 0;
}

static char *join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (p == NULL) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

/* Watches `path` (taking it over) and answers its entry; NULL when it cannot be watched. */
static watch_t *add_watch(pinner_t *p, char *path, int root) {
  int wd = inotify_add_watch(p->ifd, path, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
  if (wd < 0) {
    free(path);
    return NULL;
  }
  for (size_t i = 0; i < p->nwatches; i++) {
    if (p->watches[i].wd == wd) {
      free(path); /* the same directory again: its watch stands */
      return &p->watches[i];
    }
  }
  if (p->nwatches == p->capwatches) {
    size_t cap = p->capwatches == 0 ? 64 : p->capwatches * 2;
    watch_t *w = realloc(p->watches, cap * sizeof *w);
    if (w == NULL) {
      inotify_rm_watch(p->ifd, wd);
      free(path);
      return NULL;
    }
    p->watches = w;
    p->capwatches = cap;
  }
  p->watches[p->nwatches] = (watch_t){ wd, root, path };
  return &p->watches[p->nwatches++];
}

static watch_t *find_watch(pinner_t *p, int wd) {
  for (size_t i = 0; i < p->nwatches; i++)
    if (p->watches[i].wd == wd) return &p->watches[i];
  return NULL;
}

static void drop_watch(pinner_t *p, int wd) {
  for (size_t i = 0; i < p->nwatches; i++) {
    if (p->watches[i].wd != wd) continue;
    free(p->watches[i].path);
    p->watches[i] = p->watches[--p->nwatches];
    return;
  }
}

/* Opens dir/name if it is a plain file and queues its descriptor. */
static void pin(pinner_t *p, const char *dir, const char *name) {
  char *path = join(dir, name);
  if (path == NULL) return;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    free(path);
    return;
  }
  pthread_mutex_lock(&p->mu);
  if (p->npins < MAX_PINS) {
    p->pins[p->npins++] = (pin_t){ fd, path };
    path = NULL;
    fd = -1;
  }
  pthread_mutex_unlock(&p->mu);
  if (fd >= 0) close(fd);
  free(path);
}

/* A container directory created after pinStart: its live log, if the engine made it before the watch. */
static void pin_new_dir(pinner_t *p, const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return;
  for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
    if (is_live_log(dir, e->d_name)) pin(p, dir, e->d_name);
  closedir(d);
}

static void on_event(pinner_t *p, const struct inotify_event *e) {
  if (e->mask & IN_IGNORED) {
    drop_watch(p, e->wd); /* the directory is gone (container removed) */
    return;
  }
  if (e->len == 0 || (e->mask & IN_Q_OVERFLOW)) return; /* the caller's rescans cover an overflow */
  watch_t *w = find_watch(p, e->wd);
  if (w == NULL) return;
  if (w->root) {
    if (!(e->mask & IN_ISDIR) || !is_id(e->name)) return;
    char *dir = join(w->path, e->name);
    if (dir == NULL) return;
    watch_t *added = add_watch(p, dir, 0); /* may move p->watches: w is not used after this */
    if (added != NULL && !added->root) pin_new_dir(p, added->path);
    return;
  }
  if (!(e->mask & IN_ISDIR) && is_live_log(w->path, e->name)) pin(p, w->path, e->name);
}

static void *run(void *arg) {
  pinner_t *p = arg;
  char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    struct pollfd fds[2] = { { p->ifd, POLLIN, 0 }, { p->sfd, POLLIN, 0 } };
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    ssize_t n = read(p->ifd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    for (char *at = buf; at < buf + n;) {
      const struct inotify_event *e = (const struct inotify_event *)at;
      at += sizeof *e + e->len;
      on_event(p, e);
    }
  }
  return NULL;
}

static void stop(pinner_t *p) {
  if (!p->running) return;
  p->running = 0;
  uint64_t one = 1;
  while (write(p->sfd, &one, sizeof one) < 0 && errno == EINTR) {
  }
  pthread_join(p->thread, NULL);
  close(p->ifd);
  close(p->sfd);
  for (size_t i = 0; i < p->nwatches; i++) free(p->watches[i].path);
  free(p->watches);
  p->watches = NULL;
  p->nwatches = p->capwatches = 0;
  for (size_t i = 0; i < p->npins; i++) {
    close(p->pins[i].fd);
    free(p->pins[i].path);
  }
  p->npins = 0;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  pinner_t *p = data;
  stop(p);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

static pinner_t *handle_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype type;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok ||
      type != napi_external || napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected the handle pinStart returned");
    return NULL;
  }
  return data;
}

/* A JS string argument as a malloc'd C string (NULL when it is not a string, or too long). */
static char *string_of(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len == 0 || len > 4096) return NULL;
  char *s = malloc(len + 1);
  if (s != NULL && napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  return s;
}

napi_value pin_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  bool is_array = false;
  uint32_t n = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok ||
      !is_array || napi_get_array_length(env, argv[0], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "pinStart(roots) takes an array of directory paths");
    return NULL;
  }
  napi_get_undefined(env, &result);
  pinner_t *p = calloc(1, sizeof *p);
  if (p == NULL) return result;
  p->ifd = inotify_init1(IN_CLOEXEC);
  p->sfd = eventfd(0, EFD_CLOEXEC);
  if (p->ifd < 0 || p->sfd < 0) goto fail;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    if (napi_get_element(env, argv[0], i, &v) != napi_ok) continue;
    char *root = string_of(env, v);
    if (root == NULL) continue;
    char *kept = strdup(root);
    add_watch(p, root, 1);
    if (kept == NULL) continue;
    /* The container directories there now: watched from here on, their files left to the scan. */
    DIR *d = opendir(kept);
    if (d != NULL) {
      for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if ((e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) || !is_id(e->d_name)) continue;
        char *dir = join(kept, e->d_name);
        if (dir != NULL) add_watch(p, dir, 0);
      }
      closedir(d);
    }
    free(kept);
  }
  if (pthread_mutex_init(&p->mu, NULL) != 0) goto fail;
  if (pthread_create(&p->thread, NULL, run, p) != 0) {
    pthread_mutex_destroy(&p->mu);
    goto fail;
  }
  p->running = 1;
  if (napi_create_external(env, p, finalize, NULL, &result) != napi_ok) {
    stop(p);
    pthread_mutex_destroy(&p->mu);
    free(p);
    napi_get_undefined(env, &result);
  }
  return result;

fail:
  if (p->ifd >= 0) close(p->ifd);
  if (p->sfd >= 0) close(p->sfd);
  for (size_t i = 0; i < p->nwatches; i++) free(p->watches[i].path);
  free(p->watches);
  free(p);
  return result;
}

napi_value pin_take(napi_env env, napi_callback_info info) {
  pinner_t *p = handle_of(env, info);
  if (p == NULL) return NULL;
  pin_t taken[MAX_PINS];
  size_t n = 0;
  pthread_mutex_lock(&p->mu);
  n = p->npins;
  memcpy(taken, p->pins, n * sizeof *taken);
  p->npins = 0;
  pthread_mutex_unlock(&p->mu);
  napi_value out;
  if (napi_create_array_with_length(env, n * 2, &out) != napi_ok) out = NULL;
  for (size_t i = 0; i < n; i++) {
    napi_value fd, path;
    int ok = out != NULL && napi_create_int32(env, taken[i].fd, &fd) == napi_ok &&
             napi_create_string_utf8(env, taken[i].path, NAPI_AUTO_LENGTH, &path) == napi_ok && napi_set_element(env, out, (uint32_t)(i * 2), fd) == napi_ok &&
             napi_set_element(env, out, (uint32_t)(i * 2 + 1), path) == napi_ok;
    if (!ok) close(taken[i].fd); /* not handed over: nobody else would close it */
    free(taken[i].path);
  }
  return out;
}

napi_value pin_stop(napi_env env, napi_callback_info info) {
  pinner_t *p = handle_of(env, info);
  if (p == NULL) return NULL;
  stop(p);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}
