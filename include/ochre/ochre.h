/* ochre's C API: the operations of ochre::Engine for hosts in other languages (LuaJIT's
 * FFI, Python's ctypes, ...). An engine is an opaque handle; functions returning int give
 * 0 on success or the exit status the CLI would use (1 a job failed, 2 bad pipeline or
 * usage, 3 state locked, 4 a bug), and ochre_last_error() says why. Strings returned are
 * owned by the engine and valid until the next call on it. */
#ifndef OCHRE_H
#define OCHRE_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ochre_engine ochre_engine;

/* A line a job printed: its key ("Type/identifier") and the line, without newline. */
typedef void (*ochre_output_fn)(void* user, const char* key, const char* line);

/* A new engine on the state file `state_path` (NULL: .ochre/state.db beside the pipeline).
 * Returns NULL only when out of memory. */
ochre_engine* ochre_new(const char* state_path);
void ochre_free(ochre_engine* engine);

/* Where job output goes (default: "[key] line" on stdout). */
void ochre_set_output(ochre_engine* engine, ochre_output_fn fn, void* user);
/* How many jobs run at once (0: the default). */
void ochre_set_jobs(ochre_engine* engine, int jobs);

int ochre_load_file(ochre_engine* engine, const char* path);
int ochre_load_string(ochre_engine* engine, const char* code, const char* name);

int ochre_plan(ochre_engine* engine);
int ochre_plan_destroy(ochre_engine* engine);
/* The planned jobs: their number, and each one's "Type/identifier/uuid.method". */
int ochre_job_count(ochre_engine* engine);
const char* ochre_job_details(ochre_engine* engine, int index);
const char* ochre_plan_table(ochre_engine* engine);
const char* ochre_plan_json(ochre_engine* engine);

/* Runs the plan. 0: every job finished (or is pending); 1: a job failed or was skipped. */
int ochre_apply(ochre_engine* engine);
/* After ochre_apply: "N done, N failed, ..." */
const char* ochre_summary(ochre_engine* engine);

/* The message of the last failed call ("" if none). */
const char* ochre_last_error(ochre_engine* engine);

#ifdef __cplusplus
}
#endif

#endif
