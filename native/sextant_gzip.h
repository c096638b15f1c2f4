/* One gzip body inflated into a caller's buffer (sextant_gzip.c), called from sextant_proc.c. */
#ifndef SEXTANT_GZIP_H
#define SEXTANT_GZIP_H
#include <node_api.h>

typedef struct gzip_state gzip_state_t;

gzip_state_t *gzip_state_new(void);
void gzip_state_free(gzip_state_t *s);

/*
 * gunzipInto(input: Uint8Array, output: Uint8Array) -> number
 * output.length when input is exactly one gzip member whose data fills output exactly (checked
 * against the trailer's CRC-32 and length, as zlib does); -1 for anything else (bad data, a
 * different size, more members or bytes after the member), which the caller leaves to Node's
 * gunzip for the answer it has always given.
 */
napi_value gzip_inflate_into(napi_env env, napi_callback_info info, gzip_state_t *s);

#endif
