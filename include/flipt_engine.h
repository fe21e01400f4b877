/*
 * flipt-client: the C ABI of Flipt's client-side evaluation engine.
 *
 * A drop-in replacement for the official engine library (libfliptengine) that the official
 * Flipt SDKs load. Build it with:
 *
 *     cargo rustc --release --lib --features ffi --crate-type cdylib
 *
 * Conventions (the same as the official engine's):
 *   - Every string argument is NUL-terminated UTF-8 JSON; every string returned is owned by
 *     the caller and must be freed with destroy_string (never with free).
 *   - Answers are envelopes: {"status":"success","result":...,"error_message":null} or
 *     {"status":"failure","result":null,"error_message":"..."}. get_snapshot answers the bare
 *     base64 seed on success (it never starts with '{') and an envelope on failure.
 *   - Null pointers, invalid UTF-8, invalid JSON and internal panics give failure envelopes;
 *     nothing aborts the process.
 *   - An engine pointer is valid from initialize_engine until destroy_engine. Engines may be
 *     used from several threads at once.
 *
 * Each function also exists with an _ffi suffix, with the same signature and behaviour.
 */
#ifndef FLIPT_ENGINE_H
#define FLIPT_ENGINE_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Creates an engine from an options object: url, namespace, environment, reference,
 * authentication ({"client_token":..} | {"jwt_token":..} | "none"), request_timeout and
 * update_interval (whole seconds), fetch_mode ("polling" | "streaming"), error_strategy
 * ("fail" | "fallback"), snapshot (a base64 seed), tls_config. Never returns null: with
 * invalid options, the engine answers every call with a failure envelope naming the option.
 * Waits for the first snapshot at most 5 s, and not at all under "fallback" with a seed.
 */
void *initialize_engine(const char *opts);
void *initialize_engine_ffi(const char *opts);

/* Evaluates {"namespace_key","flag_key","entity_id","context":{string: string}}. */
const char *evaluate_variant(void *engine_ptr, const char *evaluation_request);
const char *evaluate_variant_ffi(void *engine_ptr, const char *evaluation_request);
const char *evaluate_boolean(void *engine_ptr, const char *evaluation_request);
const char *evaluate_boolean_ffi(void *engine_ptr, const char *evaluation_request);

/* Evaluates a JSON array of requests against one snapshot. */
const char *evaluate_batch(void *engine_ptr, const char *batch_evaluation_request);
const char *evaluate_batch_ffi(void *engine_ptr, const char *batch_evaluation_request);

/* Lists the flags of the current snapshot. */
const char *list_flags(void *engine_ptr);
const char *list_flags_ffi(void *engine_ptr);

/* The current snapshot as a base64 seed, the format of the "snapshot" option. */
const char *get_snapshot(void *engine_ptr);
const char *get_snapshot_ffi(void *engine_ptr);

/* Replaces the credentials from the next request on ({"client_token":..}, {"jwt_token":..}
 * or "none"). */
const char *update_authentication(void *engine_ptr, const char *auth_json);
const char *update_authentication_ffi(void *engine_ptr, const char *auth_json);

/* Stops and frees an engine; returns promptly. Null is ignored. */
void destroy_engine(void *engine_ptr);
void destroy_engine_ffi(void *engine_ptr);

/* Frees a string returned by this library. Null is ignored. */
void destroy_string(char *ptr);
void destroy_string_ffi(char *ptr);

#ifdef __cplusplus
}
#endif

#endif /* FLIPT_ENGINE_H */
