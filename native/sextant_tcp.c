/*
 * countTcpStates: the sockets of the agent's network namespace counted by TCP state over
 * NETLINK_SOCK_DIAG, the way `ss` and node_exporter's tcpstat get them.
 *
 * Why not /proc/net/tcp{,6}: rendering those files makes the kernel walk every bucket of the
 * established and listening hash tables (sized for the machine's memory, not for its sockets),
 * about 10 ms of kernel time per cycle on a small VM with a dozen sockets. A SOCK_DIAG_BY_FAMILY
 * dump walks the same tables but skips empty buckets cheaply and formats no text.
 *
 *   out[1..12]  sockets in kernel state 1 ESTABLISHED … 10 LISTEN, 11 CLOSING, 12 NEW_SYN_RECV
 *   out[0]      sockets reported with any other state (none expected; counted, not dropped)
 *
 * One dump for AF_INET, one for AF_INET6, on one socket opened per call (a kept-open socket would
 * carry its namespace and any unread replies across calls; opening one costs a few µs). Returns
 * 0, or -errno: the caller then reads the files instead. Nothing is allocated per socket: replies
 * land in one buffer allocated with the module instance.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include "sextant_tcp.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* States 1..12 of include/net/tcp_states.h; the slots of `out`. */
#define TCP_SLOTS 13
/*
 * Bits of the states asked for: 1..12. Not ~0: since Linux 6.7, bit 13 (TCP_BOUND_INACTIVE) also
 * dumps sockets that are only bound, which /proc/net/tcp never lists; both paths must agree.
 */
#define TCP_STATE_MASK 0x1ffeu
/*
 * The kernel fills a dump reply up to about 32 KiB (NLMSG_GOODSIZE, or more when asked); a
 * larger buffer never truncates one, and MSG_TRUNC is checked in case it would.
 */
#define RECV_BUF (64 * 1024)
/* A dump that has not answered in this long is abandoned (the event loop is blocked meanwhile). */
#define RECV_TIMEOUT_MS 2000

struct tcp_state {
  /* Aligned for struct nlmsghdr. */
  uint32_t *buf;
  uint32_t seq;
};

tcp_state_t *tcp_state_new(void) {
  tcp_state_t *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->buf = malloc(RECV_BUF);
  if (t->buf == NULL) {
    free(t);
    return NULL;
  }
  return t;
}

void tcp_state_free(tcp_state_t *t) {
  if (t == NULL) return;
  free(t->buf);
  free(t);
}

static int send_dump(int fd, uint8_t family, uint32_t seq) {
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } msg;
  memset(&msg, 0, sizeof msg);
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nlh.nlmsg_seq = seq;
  msg.req.sdiag_family = family;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = TCP_STATE_MASK;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  for (;;) {
    ssize_t n = sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel);
    if (n == (ssize_t)sizeof msg) return 0;
    if (n >= 0) return -EIO;
    if (errno != EINTR) return -errno;
  }
}

/*
 * Reads the replies of one dump until NLMSG_DONE, adding each socket's state into out.
 * Returns 0 or -errno.
 */
static int read_dump(int fd, tcp_state_t *t, uint32_t seq, double *out) {
  char *buf = (char *)t->buf;
  for (;;) {
    struct sockaddr_nl from;
    struct iovec iov = { .iov_base = buf, .iov_len = RECV_BUF };
    struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n = recvmsg(fd, &mh, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
    }
    if (n == 0) return -EIO;
    if (mh.msg_flags & MSG_TRUNC) return -EMSGSIZE;
    /* Only the kernel (port 0) answers a dump; anything else is not ours. */
    if (mh.msg_namelen < sizeof from || from.nl_pid != 0) continue;
    /* int, as NLMSG_OK and NLMSG_NEXT compare and count down in int. */
    int len = (int)n;
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      /* A late reply of an earlier, abandoned request. */
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) {
        /* The payload, when present, is the dump's final status (negative errno on failure). */
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int status;
          memcpy(&status, NLMSG_DATA(h), sizeof status);
          if (status < 0) return status;
        }
        return 0;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return -EBADMSG;
        const struct nlmsgerr *e = NLMSG_DATA(h);
        /* error 0 is an acknowledgement, which a dump does not send; treat it as the end. */
        return e->error < 0 ? e->error : 0;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) return -EBADMSG;
      const struct inet_diag_msg *m = NLMSG_DATA(h);
      unsigned st = m->idiag_state;
      out[st >= 1 && st < TCP_SLOTS ? st : 0] += 1;
    }
    /* Whole messages only: bytes left over are a message cut short. */
    if (len > 0) return -EBADMSG;
  }
}

static int count_states(tcp_state_t *t, double *out) {
  for (int i = 0; i < TCP_SLOTS; i++) out[i] = 0;
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -errno;
  struct timeval tv = { .tv_sec = RECV_TIMEOUT_MS / 1000, .tv_usec = (RECV_TIMEOUT_MS % 1000) * 1000 };
  int rc = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ? -errno : 0;
  static const uint8_t families[] = { AF_INET, AF_INET6 };
  for (size_t i = 0; rc == 0 && i < sizeof families; i++) {
    uint32_t seq = ++t->seq;
    rc = send_dump(fd, families[i], seq);
    if (rc == 0) rc = read_dump(fd, t, seq, out);
  }
  close(fd);
  return rc;
}

napi_value tcp_count_states(napi_env env, napi_callback_info info, tcp_state_t *t) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "countTcpStates: expected 1 argument");
    return NULL;
  }
  bool is = false;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[0], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_float64_array || len < TCP_SLOTS) {
    napi_throw_type_error(env, NULL, "countTcpStates: out must be a Float64Array of at least 13 elements");
    return NULL;
  }
  int rc = count_states(t, data);
  napi_value result;
  if (napi_create_int32(env, rc, &result) != napi_ok) return NULL;
  return result;
}
