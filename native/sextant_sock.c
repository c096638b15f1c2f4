/*
 * The credentials of the process at the other end of a unix socket: getsockopt(SO_PEERCRED), which
 * the kernel fills at connect(2) time, so the sender cannot lie about them. The receiver reads the
 * pid's cgroup to find the container and pod that sent it (src/receiver/sender-identity.ts).
 * Node has no API for it; the JavaScript fallback (src/native/peer-credentials.ts) answers
 * -EOPNOTSUPP and the receiver identifies such senders the other two ways.
 *
 * The pid is as seen from the caller's pid namespace: 0 when the peer lives in a namespace the
 * caller cannot see (an agent without hostPID).
 */
#define _GNU_SOURCE
#include "sextant_sock.h"

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

napi_value sock_peer_credentials(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "peerCredentials(fd, out) takes two arguments");
    return NULL;
  }
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "fd must be a non-negative integer");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int32_array || length < 3) {
    napi_throw_type_error(env, NULL, "out must be an Int32Array of at least 3");
    return NULL;
  }
  struct ucred cred;
  socklen_t size = sizeof cred;
  int32_t rc = 0;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0) {
    rc = -errno;
  } else {
    int32_t *out = data;
    out[0] = (int32_t)cred.pid;
    out[1] = (int32_t)cred.uid;
    out[2] = (int32_t)cred.gid;
  }
  napi_create_int32(env, rc, &result);
  return result;
}
