/*
 * The gateway inflates every gzip'd request body (src/io/request-body.ts). Node's gunzipSync
 * makes a new zlib stream per call (inflateInit2: ~40 KB of state and window, reported to V8 as
 * external memory) and hands back its output in a buffer it allocated beside the one it filled:
 * ~75 KB of external memory per 17 KB log request, which set off most of V8's full collections
 * on the log ingest bench. Here one stream per Node environment is reset and reused, and zlib
 * writes straight into the buffer the caller sized from the gzip trailer.
 *
 * Only the plain case is answered: one member, its length exactly the output's. Anything else
 * returns -1 and the caller runs Node's gunzip, so errors, limits and multi-member bodies behave
 * exactly as they did. zlib is the one Node itself links and exports to addons (node's zlib.h).
 */
#include "sextant_gzip.h"

#include <limits.h>
#include <stdlib.h>
#include <zlib.h>

struct gzip_state {
  z_stream zs;
  int ready;
};

gzip_state_t *gzip_state_new(void) { return calloc(1, sizeof(gzip_state_t)); }

void gzip_state_free(gzip_state_t *s) {
  if (s == NULL) return;
  if (s->ready) inflateEnd(&s->zs);
  free(s);
}

static int bytes_of(napi_env env, napi_value v, unsigned char **data, size_t *len) {
  napi_typedarray_type type;
  size_t length;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, &length, &p, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  *data = p;
  *len = length;
  return 1;
}

napi_value gzip_inflate_into(napi_env env, napi_callback_info info, gzip_state_t *s) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value result;
  unsigned char *in, *out;
  size_t in_len, out_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || !bytes_of(env, argv[0], &in, &in_len) ||
      !bytes_of(env, argv[1], &out, &out_len)) {
    napi_throw_type_error(env, NULL, "gunzipInto(input, output) takes two Uint8Arrays");
    return NULL;
  }
  int32_t rc = -1;
  /* zlib counts in uInt; anything larger goes to Node's streaming gunzip anyway. */
  if (in_len > 0 && in_len <= UINT_MAX && out_len <= UINT_MAX) {
    int ok;
    if (s->ready) {
      ok = inflateReset(&s->zs) == Z_OK;
    } else {
      s->zs.zalloc = Z_NULL;
      s->zs.zfree = Z_NULL;
      s->zs.opaque = Z_NULL;
      s->zs.next_in = Z_NULL;
      s->zs.avail_in = 0;
      /* 16 + MAX_WBITS: a gzip wrapper only, as Node's gunzip expects. */
      ok = s->ready = inflateInit2(&s->zs, 16 + MAX_WBITS) == Z_OK;
    }
    if (ok) {
      /* An empty output still needs a valid pointer for zlib to write nothing into. */
      unsigned char none;
      s->zs.next_in = in;
      s->zs.avail_in = (uInt)in_len;
      s->zs.next_out = out_len > 0 ? out : &none;
      s->zs.avail_out = (uInt)out_len;
      int z = inflate(&s->zs, Z_FINISH);
      if (z == Z_STREAM_END && s->zs.avail_in == 0 && s->zs.avail_out == 0) rc = (int32_t)out_len;
    }
  }
  napi_create_int32(env, rc, &result);
  return result;
}
