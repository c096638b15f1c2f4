/* Docker log files opened the moment the engine creates them (sextant_pin.c), called from sextant_proc.c. */
#ifndef SEXTANT_PIN_H
#define SEXTANT_PIN_H
#include <node_api.h>

/*
 * pinStart(roots: string[]) -> object | undefined
 * Starts a pinning thread and answers its handle: the thread watches each root (a Docker
 * containers directory), each container directory in it and each one created later, and opens
 * every `<id>-json.log` created after this call. undefined when inotify or a thread cannot be
 * had; the caller then pins from its watch callbacks alone.
 */
napi_value pin_start(napi_env env, napi_callback_info info);

/*
 * pinTake(handle) -> (number | string)[]
 * The descriptors opened since the last call, oldest first, as [fd, path, fd, path, ...], where
 * path is the name the file was created under; the caller owns (and closes) each from here on.
 */
napi_value pin_take(napi_env env, napi_callback_info info);

/*
 * pinStop(handle) -> undefined
 * Stops the thread and closes every descriptor not taken; later calls do nothing. A handle
 * garbage-collected without it is stopped then.
 */
napi_value pin_stop(napi_env env, napi_callback_info info);

#endif
