// The catalog of messages. Keep texts short, say what is wrong and what to do.
#include "ochre/errors.hpp"

#include <vector>

#include "engine/timing.hpp"

namespace ochre {
namespace {

struct Entry {
  Code code;
  const char* name;
  ErrorKind kind;
  const char* text;
};

constexpr Entry catalog[] = {
    {Code::Usage, "usage", ErrorKind::User, "{} (see 'ochre --help')"},
    {Code::NoFile, "no-file", ErrorKind::User, "cannot read pipeline '{}': {}"},
    {Code::LuaSyntax, "syntax", ErrorKind::User, "syntax error: {}"},
    {Code::LuaRuntime, "load", ErrorKind::User, "{}"},
    {Code::BadReturn, "bad-return", ErrorKind::User,
     "the pipeline must return a component instance or a list of them, or pass them to "
     "ochre.apply (it returned {})"},
    {Code::UnknownField, "unknown-field", ErrorKind::User, "{} has no field '{}'{}"},
    {Code::MissingField, "missing-field", ErrorKind::User, "{} needs a value for required field '{}'"},
    {Code::BadValue, "bad-value", ErrorKind::User, "{}: {}"},
    {Code::BadIdentifier, "bad-identifier", ErrorKind::User,
     "an identifier must be a non-empty string (got {})"},
    {Code::BadType, "bad-type", ErrorKind::User, "{}"},
    {Code::Duplicate, "duplicate", ErrorKind::User,
     "{} is defined twice with different fields: at {} and at {}"},
    {Code::Cycle, "cycle", ErrorKind::User, "dependency cycle: {}"},
    {Code::TypeGone, "type-gone", ErrorKind::User,
     "the state holds {} but the pipeline no longer defines type '{}': define it again so "
     "ochre can delete it, or forget it with 'ochre state rm {}'"},
    {Code::UnknownKey, "unknown-key", ErrorKind::User, "no instance '{}' in {}"},
    {Code::State, "state", ErrorKind::User, "state '{}': {}"},
    {Code::StateVersion, "state-version", ErrorKind::User,
     "state '{}' has schema version {}, newer than this ochre knows ({}): upgrade ochre"},
    {Code::Locked, "locked", ErrorKind::Locked, "state '{}' is locked by {}"},
    {Code::NotNow, "not-now", ErrorKind::User, "{}"},
    {Code::HookFailed, "hook", ErrorKind::Hook, "{}"},
    {Code::Listen, "listen", ErrorKind::User, "cannot serve on {}: {}"},
    {Code::Internal, "internal", ErrorKind::Internal, "internal error (a bug in ochre): {}"},
};

struct MsgEntry {
  Msg msg;
  const char* name;
  Code code;
  const char* text;
};

#define OCHRE_TYPE "ochre.component \"{}\": "
#define OCHRE_HELP " (see 'ochre --help')"
#define OCHRE_RETURNED \
  "the pipeline must return a component instance or a list of them, or pass them to ochre.apply (it returned "
constexpr MsgEntry messages[] = {
    // the DSL
    {Msg::TestName, "test-name", Code::LuaRuntime, "ochre.test takes a name and a function"},
    {Msg::TestFunction, "test-function", Code::LuaRuntime, "ochre.test \"{}\" takes a function"},
    {Msg::SettingsTable, "settings-table", Code::LuaRuntime,
     "ochre.settings takes a table: ochre.settings { state = \"postgres://user@host/db\" }"},
    {Msg::SettingsUnknown, "settings-unknown", Code::LuaRuntime,
     "ochre.settings: unknown setting {} (known: state, workspace)"},
    {Msg::SettingsString, "settings-string", Code::LuaRuntime,
     "ochre.settings: {} takes a non-empty string (got {})"},
    {Msg::SettingsWorkspace, "settings-workspace", Code::LuaRuntime,
     "ochre.settings: workspace '{}' must be letters, digits, '_', '.' and '-'"},
    {Msg::PendingReason, "pending-reason", Code::LuaRuntime, "ochre.pending takes a reason string"},
    {Msg::OsExit, "os-exit", Code::HookFailed,
     "os.exit cannot end ochre from a hook: raise an error to fail the job (or return "
     "ochre.pending \"reason\" to come back later)"},
    {Msg::CommandFailed, "command-failed", Code::HookFailed, "command {}: {}{}"},
    {Msg::CommandTimedOut, "command-timed-out", Code::HookFailed, "timed out"},
    {Msg::CommandExited, "command-exited", Code::HookFailed, "exited with {}"},
    {Msg::CommandKilled, "command-killed", Code::HookFailed, "was killed by signal {}"},
    {Msg::SuggestNear, "suggest-near", Code::LuaRuntime, " (did you mean '{}'?)"},
    {Msg::SuggestNoFields, "suggest-no-fields", Code::LuaRuntime, " (it declares no fields)"},
    {Msg::SuggestFields, "suggest-fields", Code::LuaRuntime, " (its fields: {})"},
    {Msg::HintList, "hint-list", Code::LuaRuntime, " ({}: {})"},
    {Msg::FieldNan, "field-nan", Code::BadValue, "field '{}' is NaN, which has no stable hash"},
    {Msg::FieldInfinite, "field-infinite", Code::BadValue, "field '{}' is infinite, which has no stable hash"},
    {Msg::FieldRequiredValue, "field-required-value", Code::BadValue,
     "field '{}': ochre.required marks a field in a type's fields, not a value"},
    {Msg::FieldProblem, "field-problem", Code::BadValue, "field '{}' {}"},
    {Msg::FieldTooDeep, "field-too-deep", Code::BadValue, "field '{}' holds tables nested more than {} deep"},
    {Msg::FieldKeyNotFinite, "field-key-not-finite", Code::BadValue,
     "field '{}' has a key that is not a finite number"},
    {Msg::PathMethod, "path-method", Code::LuaRuntime, "path is a method: write self:path \"name\""},
    {Msg::PathRelative, "path-relative", Code::LuaRuntime, "self:path takes a relative file name"},
    {Msg::PathLeaves, "path-leaves", Code::LuaRuntime, "self:path: '..' would leave the instance's area"},
    {Msg::UnknownField, "unknown-field", Code::UnknownField, "{} has no field '{}'{}"},
    {Msg::IdentifierFixed, "identifier-fixed", Code::LuaRuntime, "the identifier of {} cannot change"},
    {Msg::FieldsGiven, "fields-given", Code::LuaRuntime,
     "{} already has its fields; give them once: {} \"{}\" { ... }"},
    {Msg::FieldsTable, "fields-table", Code::LuaRuntime, "{}: expected a table of fields, got {}"},
    {Msg::FieldNameString, "field-name-string", Code::LuaRuntime,
     "{}: field names are strings; got {} (write name = value)"},
    {Msg::FieldReservedSet, "field-reserved-set", Code::LuaRuntime, "{}: '{}' cannot be set as a field"},
    {Msg::MissingField, "missing-field", Code::MissingField, "{} needs a value for required field '{}'"},
    {Msg::BadIdentifier, "bad-identifier", Code::BadIdentifier,
     "{}: an identifier must be a non-empty string (got {}); write {} \"name\""},
    {Msg::TypeName, "type-name", Code::BadType, "a component type name is a word like \"Processor\" (got {})"},
    {Msg::TypeSpec, "type-spec", Code::BadType,
     "ochre.component \"{}\" expects a table { fields = ..., create = ... } (got {})"},
    {Msg::TypeDefined, "type-defined", Code::BadType, "component type '{}' is already defined at {}"},
    {Msg::TypeEntryKey, "type-entry-key", Code::BadType, OCHRE_TYPE "unexpected entry {}"},
    {Msg::TypeHookNotFunction, "type-hook-not-function", Code::BadType, " (a hook must be a function)"},
    {Msg::TypeEntryUnknown, "type-entry-unknown", Code::BadType, OCHRE_TYPE "unknown entry '{}'{}"},
    {Msg::TypeFields, "type-fields", Code::BadType, OCHRE_TYPE "fields must be a table of name = default"},
    {Msg::TypeFieldName, "type-field-name", Code::BadType, OCHRE_TYPE "field names are words (got {})"},
    {Msg::TypeFieldReserved, "type-field-reserved", Code::BadType,
     OCHRE_TYPE "'{}' is reserved and cannot be a field"},
    {Msg::TypeFieldMethod, "type-field-method", Code::BadType,
     OCHRE_TYPE "'{}' is the name of a method and cannot be a field"},
    {Msg::TypeDefault, "type-default", Code::BadType, OCHRE_TYPE "default of {}"},
    {Msg::TypeBreaks, "type-breaks", Code::BadType, OCHRE_TYPE "breaks must be a list of field names"},
    {Msg::TypeBreaksUnknown, "type-breaks-unknown", Code::BadType,
     OCHRE_TYPE "breaks names '{}', which is not a field{}"},
    {Msg::TypeBreaksTwice, "type-breaks-twice", Code::BadType, OCHRE_TYPE "breaks names '{}' twice"},
    {Msg::TypeSensitive, "type-sensitive", Code::BadType, OCHRE_TYPE "sensitive must be a list of field names"},
    {Msg::TypeSensitiveIdentifier, "type-sensitive-identifier", Code::BadType,
     OCHRE_TYPE "the identifier is part of the key, shown everywhere; it cannot be sensitive"},
    {Msg::TypeSensitiveUnknown, "type-sensitive-unknown", Code::BadType,
     OCHRE_TYPE "sensitive names '{}', which is not a field{}"},
    {Msg::TypeSensitiveTwice, "type-sensitive-twice", Code::BadType, OCHRE_TYPE "sensitive names '{}' twice"},
    {Msg::NotifyTable, "notify-table", Code::Usage,
     "ochre.notify takes a table { url = ..., events = ..., secret = ... } (got {})"},
    {Msg::NotifyEventAsEntry, "notify-event-as-entry", Code::Usage, " (list events in events = { \"{}\" })"},
    {Msg::NotifyUnknownEntry, "notify-unknown-entry", Code::Usage, "ochre.notify: unknown entry {}{}"},
    {Msg::NotifyNoUrl, "notify-no-url", Code::Usage, "ochre.notify needs a url = \"https://...\""},
    {Msg::NotifyUrlType, "notify-url-type", Code::Usage, "ochre.notify: url must be a string (got {})"},
    {Msg::NotifyUrlBad, "notify-url-bad", Code::Usage, "ochre.notify: {} (got {})"},
    {Msg::NotifyNoSecret, "notify-no-secret", Code::Usage,
     "ochre.notify: no secret to sign deliveries with: pass secret = os.getenv \"NAME\" and set that "
     "variable (or set OCHRE_NOTIFY_SECRET and use --notify)"},
    {Msg::NotifySecretType, "notify-secret-type", Code::Usage, "ochre.notify: secret must be a string (got {})"},
    {Msg::NotifyEvents, "notify-events", Code::Usage,
     "ochre.notify: events must be a list of event names (leave it out for every event): {}"},
    {Msg::NotifyEventsHint, "notify-events-hint", Code::Usage, " (events: {})"},
    {Msg::NotifyUnknownEvent, "notify-unknown-event", Code::Usage, "ochre.notify: unknown event {}{}"},
    // what a field may hold
    {Msg::ValueType, "value-type", Code::BadValue,
     "holds a {}; fields hold data only (nil, booleans, numbers, strings and tables of those)"},
    {Msg::ValueMetatable, "value-metatable", Code::BadValue, "holds a table with a metatable; fields hold plain data"},
    {Msg::ValueCycle, "value-cycle", Code::BadValue, "contains a cycle (a table that contains itself)"},
    {Msg::ValueKeyType, "value-key-type", Code::BadValue, "has a {} key; keys are strings or numbers"},
    {Msg::ValueMixedKeys, "value-mixed-keys", Code::BadValue, "mixes string and number keys; use one kind"},
    {Msg::ValueNan, "value-nan", Code::BadValue, "NaN has no stable hash"},
    {Msg::ValueInfinite, "value-infinite", Code::BadValue, "an infinite number has no stable hash"},
    {Msg::ValueTooDeep, "value-too-deep", Code::BadValue, "is nested too deeply"},
    {Msg::ValueAt, "value-at", Code::BadValue, "field '{}{}': {}"},
    {Msg::ValueInstanceJson, "value-instance-json", Code::BadValue, "value: an instance cannot be encoded as JSON"},
    {Msg::ValueInstanceOutput, "value-instance-output", Code::BadValue, "outputs: an instance cannot be an output"},
    {Msg::ValueKeySuffix, "value-key-suffix", Code::BadValue, " (a key)"},
    // the natives
    {Msg::NativeTakes, "native-takes", Code::LuaRuntime, "{} takes {}"},
    {Msg::JsonEncode, "json-encode", Code::LuaRuntime, "ochre.json.encode: {}"},
    {Msg::JsonDecode, "json-decode", Code::LuaRuntime, "ochre.json.decode: {}"},
    {Msg::WaitHere, "wait-here", Code::LuaRuntime,
     "cannot wait here: waiting calls work in a hook's own coroutine, not in one of yours"},
    {Msg::WaitTimeout, "wait-timeout", Code::LuaRuntime, "{}: timeout must be a number of seconds >= 0"},
    {Msg::SleepSeconds, "sleep-seconds", Code::LuaRuntime, "ochre.sleep takes a number of seconds >= 0"},
    {Msg::WaitFileTakes, "wait-file-takes", Code::LuaRuntime, "ochre.wait_file takes a path"},
    {Msg::WaitPidTakes, "wait-pid-takes", Code::LuaRuntime, "ochre.wait_pid takes a process id"},
    {Msg::ShEnvTable, "sh-env-table", Code::LuaRuntime, "ochre.sh: env must be a table of NAME = value"},
    {Msg::ShEnvNames, "sh-env-names", Code::LuaRuntime, "ochre.sh: env names are strings"},
    {Msg::ShEnvValue, "sh-env-value", Code::LuaRuntime, "ochre.sh: env.{} must be a string, a number or false"},
    {Msg::ShTakes, "sh-takes", Code::LuaRuntime, "ochre.sh takes a command string"},
    {Msg::ShOptions, "sh-options", Code::LuaRuntime, "ochre.sh: options must be a table"},
    {Msg::ShCwd, "sh-cwd", Code::LuaRuntime, "ochre.sh: cwd must be a path"},
    {Msg::ShStdin, "sh-stdin", Code::LuaRuntime, "ochre.sh: stdin must be a string"},
    {Msg::ShUnknownOption, "sh-unknown-option", Code::LuaRuntime,
     "ochre.sh: unknown option '{}' (the options are env, cwd, stdin, quiet, timeout, check, executor and slurm)"},
    {Msg::ShQuiet, "sh-quiet", Code::LuaRuntime, "ochre.sh: {} must be true or false"},
    {Msg::ShFailed, "sh-failed", Code::LuaRuntime, "ochre.sh: {}"},
    {Msg::ShCannotStart, "sh-cannot-start", Code::LuaRuntime, "cannot start the command: {}"},
    {Msg::VerbInHook, "verb-in-hook", Code::LuaRuntime,
     "ochre.{} belongs in the pipeline file (it names what ochre works on); a hook cannot call it"},
    {Msg::VerbTakes, "verb-takes", Code::BadReturn,
     "ochre.{} takes a component instance or a list of them (got {})"},
    {Msg::PrintTostring, "print-tostring", Code::LuaRuntime, "'tostring' must return a string to 'print'"},
    {Msg::CannotCreate, "cannot-create", Code::LuaRuntime, "cannot create {}: {}"},
    {Msg::StdlibNoModule, "stdlib-no-module", Code::LuaRuntime, "\n\tno module '{}' in ochre's stdlib"},
    {Msg::HookOutputs, "hook-outputs", Code::HookFailed, "{} returned outputs that are not data: {}"},
    {Msg::HookReturn, "hook-return", Code::HookFailed,
     "{} must return a table of outputs, ochre.pending(...) or nothing (it returned a {})"},
    {Msg::HookYielded, "hook-yielded", Code::HookFailed,
     "{} failed: the hook yielded without waiting for anything (coroutine.yield is not for hooks; "
     "wait with ochre.sleep, ochre.sh, ...)"},
    {Msg::HookFailed, "hook-failed", Code::HookFailed, "{} failed: {}"},
    {Msg::HookTimedOut, "hook-timed-out", Code::HookFailed, "{} timed out after {} s"},
    {Msg::HookStuck, "hook-stuck", Code::HookFailed,
     "{} timed out or was interrupted, but it is busy in compiled Lua code that cannot be "
     "stopped: ochre ends here (exit 1); the running jobs are recorded as interrupted, their "
     "commands are killed, and the next run retries them"},
    {Msg::StoredGone, "stored-gone", Code::HookFailed,
     "the stored version of {} is read while the run that gave it to a hook goes on, not after: "
     "copy what a later run needs into a table of your own"},
    {Msg::NativeType, "native-type", Code::BadType, "native type {}: {}"},
    {Msg::BadKey, "bad-key", Code::Internal, "internal error (a bug in ochre): bad key {}"},
    {Msg::WaitingOnNothing, "waiting-on-nothing", Code::Internal, "internal error (a bug in ochre): waiting on nothing"},
    {Msg::LuaStateMemory, "lua-state-memory", Code::Internal,
     "internal error (a bug in ochre): cannot create a Lua state (out of memory)"},
    {Msg::NoEmbedded, "no-embedded", Code::Internal, "internal error (a bug in ochre): no embedded Lua file {}"},
    {Msg::BadArgument, "bad-argument", Code::LuaRuntime, "bad argument #{} to '{}' (string expected, got {})"},
    {Msg::ShExecutor, "sh-executor", Code::LuaRuntime, "{}: executor must be \"local\" or \"slurm\" (got {})"},
    {Msg::ShSlurmTable, "sh-slurm-table", Code::LuaRuntime, "{}: slurm must be a table of sbatch options"},
    {Msg::ShSlurmOption, "sh-slurm-option", Code::LuaRuntime,
     "{}: slurm.{} {} (options: partition, cpus, mem, time, gpus, name, extra)"},
    {Msg::SlurmNoSbatch, "slurm-no-sbatch", Code::LuaRuntime,
     "cannot submit to Slurm: sbatch is not on PATH (install Slurm's client tools, or run with --executor local)"},
    {Msg::SlurmRejected, "slurm-rejected", Code::LuaRuntime, "cannot submit to Slurm: {}"},
    {Msg::SlurmUnreachable, "slurm-unreachable", Code::LuaRuntime,
     "the Slurm controller does not answer (the job may still run; the next run re-attaches to it): {}"},
    {Msg::SlurmEnded, "slurm-ended", Code::LuaRuntime,
     "Slurm job {} ended {} without an exit code in {} (is that directory on a filesystem the cluster's nodes share?)"},
    {Msg::SlurmLost, "slurm-lost", Code::LuaRuntime, "the cluster lost Slurm job {}, submitted {} times again"},
    {Msg::SlurmDirectory, "slurm-directory", Code::LuaRuntime, "cannot write the job's directory: {}"},
    {Msg::SettingsExecutor, "settings-executor", Code::LuaRuntime,
     "ochre.settings: executor must be \"local\" or \"slurm\", and slurm a table of sbatch options"},
    // the loader and the engine
    {Msg::ReturnedNothing, "returned-nothing", Code::BadReturn, OCHRE_RETURNED "nothing)"},
    {Msg::ReturnedEmptyTable, "returned-empty-table", Code::BadReturn, OCHRE_RETURNED "an empty table)"},
    {Msg::ReturnedNamedTable, "returned-named-table", Code::BadReturn,
     OCHRE_RETURNED "a table with named entries; return a list: { a, b })"},
    {Msg::ReturnedBadItem, "returned-bad-item", Code::BadReturn,
     OCHRE_RETURNED "a list whose item {} is not an instance)"},
    {Msg::ReturnedValue, "returned-value", Code::BadReturn, OCHRE_RETURNED "a {} value)"},
    {Msg::LoadDirectory, "load-directory", Code::NoFile, "cannot read pipeline '{}': it is a directory"},
    {Msg::LoadNotFile, "load-not-file", Code::NoFile,
     "cannot read pipeline '{}': it is not a file (a device or a socket); give a Lua file"},
    {Msg::WatchFifo, "watch-fifo", Code::NoFile,
     "cannot {} a FIFO ('{}'): 'ochre {}' reads the pipeline more than once; give a Lua file"},
    {Msg::LoadBytecode, "load-bytecode", Code::LuaSyntax,
     "syntax error: a precompiled (bytecode) chunk; ochre loads Lua source only"},
    {Msg::UvLoopInit, "uv-loop-init", Code::Internal, "internal error (a bug in ochre): uv_loop_init: {}"},
    {Msg::NoPlanYet, "no-plan-yet", Code::Internal, "internal error (a bug in ochre): no plan yet: call plan() first"},
    {Msg::WebhookBad, "webhook-bad", Code::Usage, "webhook '{}': {} (see 'ochre --help')"},
    {Msg::WebhookNoSecret, "webhook-no-secret", Code::Usage,
     "webhook {} has no secret to sign deliveries with (set OCHRE_NOTIFY_SECRET) (see 'ochre --help')"},
    {Msg::WebhookUnknownEvent, "webhook-unknown-event", Code::Usage,
     "webhook {}: unknown event '{}' (see 'ochre --help')"},
    {Msg::UnknownKeyInState, "unknown-key-in-state", Code::UnknownKey, "no instance '{}' in the state {}"},
    {Msg::NoJob, "no-job", Code::NotNow, "no job {} in the plan"},
    {Msg::ApplyUnderWay, "apply-under-way", Code::NotNow, "an apply is under way"},
    {Msg::ApplyAlreadyUnderWay, "apply-already-under-way", Code::NotNow, "an apply is already under way"},
    {Msg::PlanEmpty, "plan-empty", Code::NotNow, "nothing to apply: the plan is empty"},
    {Msg::NotApplied, "not-applied", Code::NotNow, "{} is not applied yet: run 'ochre run' first"},
    {Msg::NoMethod, "no-method", Code::NotNow, "{} has no method '{}'"},
    {Msg::TypeCutoff, "type-cutoff", Code::BadType, OCHRE_TYPE "cutoff must be true or false (got {})"},
    {Msg::RereadRef, "reread-ref", Code::BadValue,
     "{}: its read hook, run again once its sub-components' jobs ended, referenced {}, which is not one of its "
     "sub-components in the plan"},
    {Msg::CutoffFailed, "cutoff-failed", Code::HookFailed, "{}: cutoff: {}"},
    // the state stores
    {Msg::StateIsDirectory, "state-is-directory", Code::State, "state '{}': is a directory, not a state file"},
    {Msg::StateNotSqlite, "state-not-sqlite", Code::State,
     "state '{}': not an ochre state (the file is not a SQLite database); move it away or pass another --state"},
    {Msg::StateCannotOpen, "state-cannot-open", Code::State, "state '{}': cannot open: {}"},
    // {} is the step that failed (open, prepare, query, pipeline, send, commit), then why
    {Msg::StateStep, "state-step", Code::State, "state '{}': {}: {}"},
    {Msg::StateMkdir, "state-mkdir", Code::State, "state '{}': cannot create directory {}: {}"},
    {Msg::StateNoInstancesTable, "state-no-instances-table", Code::State,
     "state '{}': not an ochre state (no instances table)"},
    {Msg::StateForeignSqlite, "state-foreign-sqlite", Code::State,
     "state '{}': a SQLite database that is not an ochre state; pass another --state"},
    {Msg::StateNotEmptyFile, "state-not-empty-file", Code::State,
     "state '{}': is not empty; migrate into a new state file"},
    {Msg::StateNotEmptyWorkspace, "state-not-empty-workspace", Code::State,
     "state '{}': is not empty; migrate into a new workspace or an empty database"},
    {Msg::ReadOnlyWrite, "read-only-write", Code::Internal,
     "internal error (a bug in ochre): write to a read-only state"},
    {Msg::PgSchemaName, "pg-schema-name", Code::Usage,
     "state {}: schema '{}' must be lower-case letters, digits and '_', not starting with a digit" OCHRE_HELP},
    {Msg::PgCannotConnect, "pg-cannot-connect", Code::State,
     "state '{}': cannot connect: {}; check the URL, and that the server runs and accepts you"},
    {Msg::PgConnectionLost, "pg-connection-lost", Code::State, "the connection to the server was lost ({})"},
    {Msg::PgCommitFailed, "pg-commit-failed", Code::State, "state '{}': commit failed, nothing of it was recorded: {}"},
    {Msg::PqCannotLoad, "pq-cannot-load", Code::State,
     "cannot load libpq.so.5 ({}); a PostgreSQL state needs libpq: apt-get install libpq5"},
    {Msg::PqNotFound, "pq-not-found", Code::State, "not found"},
    {Msg::PqMissingFunction, "pq-missing-function", Code::State, "libpq.so.5 has no {} (libpq 14 or later is needed)"},
    {Msg::LockFileOpen, "lock-file-open", Code::State, "state '{}': cannot open lock file {}: {}"},
    {Msg::LockFailed, "lock-failed", Code::State, "state '{}': cannot lock: {}"},
    {Msg::LockedNoTimeout, "locked-no-timeout", Code::Locked,
     "state '{}' is locked by {}; wait for it with --lock-timeout SECONDS"},
    {Msg::DamagedEncoding, "damaged-encoding", Code::State, "state '{}': damaged value encoding at byte {}"},
    {Msg::DamagedVersion, "damaged-version", Code::State, "state '{}': damaged version of {} ({})"},
    {Msg::DamagedRow, "damaged-row", Code::State, "state '{}': damaged row for {}"},
    {Msg::DamagedRowForget, "damaged-row-forget", Code::State,
     "state '{}': damaged row for {} ({}); forget it with 'ochre state rm {}'"},
    {Msg::MigrateSame, "migrate-same", Code::Usage, "--from and --to name the same state" OCHRE_HELP},
    {Msg::MigrateNothing, "migrate-nothing", Code::State,
     "state '{}': holds nothing to migrate (check --from and --workspace)"},
    {Msg::MigrateDiffers, "migrate-differs", Code::State, "state '{}': the copy differs from the original in {}"},
    {Msg::MigratePlansDiffer, "migrate-plans-differ", Code::State,
     "state '{}': the copy plans differently from the original:\n{}--- against the copy ---\n{}"},
    {Msg::OutOfMemory, "out-of-memory", Code::Internal, "out of memory"},
    {Msg::OutOfMemoryIn, "out-of-memory-in", Code::LuaRuntime, "out of memory {}"},
    {Msg::UnknownError, "unknown-error", Code::Internal, "unknown error"},
    {Msg::StateWriteInRun, "state-write-in-run", Code::State,
     "{}\nthe state could not be written during the run: what finished before is recorded; "
     "run again once the state can be written (exit 4)"},
    // state mv and the other inspections
    {Msg::NotAKey, "not-a-key", Code::Usage, "'{}' is not a Type/identifier key" OCHRE_HELP},
    {Msg::MoveTypes, "move-types", Code::Usage,
     "state mv renames an identifier; {} and {} have different types" OCHRE_HELP},
    {Msg::MoveTaken, "move-taken", Code::Usage, "{} is already in the state" OCHRE_HELP},
    {Msg::MoveOlder, "move-older", Code::Usage,
     "{} was stored by an older ochre; apply the pipeline once before 'state mv'" OCHRE_HELP},
    {Msg::MoveDangling, "move-dangling", Code::State, "state '(state)': reference to {}, which is not stored"},
    {Msg::UnknownKeyInPipeline, "unknown-key-in-pipeline", Code::UnknownKey, "no instance '{}' in the pipeline"},
    {Msg::UnknownKeyNotStored, "unknown-key-not-stored", Code::UnknownKey, "no instance '{}' in the state"},
    {Msg::UnknownKeyAnywhere, "unknown-key-anywhere", Code::UnknownKey,
     "no instance '{}' in the pipeline or the state"},
    {Msg::GraphFormat, "graph-format", Code::Usage, "--format takes dot or mermaid" OCHRE_HELP},
    // running jobs
    {Msg::JobNotReady, "job-not-ready", Code::NotNow, "job {} is not ready to run"},
    {Msg::JobNotSkippable, "job-not-skippable", Code::NotNow, "job {} cannot be skipped (it ran or was skipped)"},
    {Msg::JobsWaitOnNothing, "jobs-wait-on-nothing", Code::Internal,
     "internal error (a bug in ochre): running jobs wait on nothing"},
    {Msg::RefUnknown, "ref-unknown", Code::Internal,
     "internal error (a bug in ochre): reference to unknown instance {}"},
    {Msg::PlanCycle, "plan-cycle", Code::Internal, "internal error (a bug in ochre): cycle among planned jobs"},
    {Msg::Sha256Failed, "sha256-failed", Code::Internal, "internal error (a bug in ochre): SHA-256 failed"},
    {Msg::HmacFailed, "hmac-failed", Code::Internal, "internal error (a bug in ochre): HMAC-SHA256 failed"},
    {Msg::NoRandomBytes, "no-random-bytes", Code::Internal,
     "internal error (a bug in ochre): no random bytes for a delivery id"},
    {Msg::NotSentYet, "not-sent-yet", Code::NotNow, "not sent yet"},
    // the command line
    {Msg::OptionNumber, "option-number", Code::Usage, "option {} takes a number >= {} (got '{}')" OCHRE_HELP},
    {Msg::OptionInteger, "option-integer", Code::Usage,
     "option {} takes a whole number >= {} (got '{}')" OCHRE_HELP},
    {Msg::OptionStateEmpty, "option-state-empty", Code::Usage,
     "option --state needs a SQLite file or a postgres:// URL; leave it out for the default "
     "(.ochre/state.db beside the pipeline)" OCHRE_HELP},
    {Msg::StateDanglingLink, "state-dangling-link", Code::State,
     "state '{}': a symbolic link to '{}', which does not exist: restore its target, or "
     "remove the link to start a new state there"},
    {Msg::OptionPort, "option-port", Code::Usage,
     "option --port takes a port number from 0 (any free port) to 65535 (got '{}')" OCHRE_HELP},
    {Msg::OptionNeedsValue, "option-needs-value", Code::Usage, "option {} needs a value" OCHRE_HELP},
    {Msg::OptionHost, "option-host", Code::Usage, "--host needs an address, e.g. 127.0.0.1" OCHRE_HELP},
    {Msg::OptionColor, "option-color", Code::Usage, "--color takes auto, always or never" OCHRE_HELP},
    {Msg::OptionUnknown, "option-unknown", Code::Usage, "unknown option '{}'" OCHRE_HELP},
    // {} {} {} {}: the option, the command, the commands that take it, the command again
    {Msg::OptionOfOtherCommand, "option-of-other-command", Code::Usage,
     "option {} is not an option of '{}': it belongs to {} (see 'ochre {} --help')"},
    {Msg::OptionMisspelt, "option-misspelt", Code::Usage,
     "unknown option '{}'; did you mean '{}'? (see 'ochre {} --help')"},
    {Msg::OptionExecutor, "option-executor", Code::Usage, "--executor takes local or slurm (got '{}')" OCHRE_HELP},
    {Msg::DeleteDeclined, "delete-declined", Code::Usage, "nothing was changed: the deletion was not confirmed"},
    {Msg::OptionEvery, "option-every", Code::Usage,
     "--every takes a duration like 30s, 5m, 1h or 500ms (got '{}')" OCHRE_HELP},
    {Msg::NoCommand, "no-command", Code::Usage, "no command given" OCHRE_HELP},
    {Msg::UnknownCommand, "unknown-command", Code::Usage, "unknown command '{}'" OCHRE_HELP},
    {Msg::NotifyUrl, "notify-url", Code::Usage, "--notify '{}': {}" OCHRE_HELP},
    {Msg::NotifyNoSecretEnv, "notify-no-secret-env", Code::Usage,
     "--notify needs a secret to sign deliveries with: set OCHRE_NOTIFY_SECRET" OCHRE_HELP},
    {Msg::WorkspaceName, "workspace-name", Code::Usage,
     "workspace '{}' must be letters, digits, '_', '.' and '-' (at most 63)" OCHRE_HELP},
    {Msg::NeedsFile, "needs-file", Code::Usage, "'{}' needs a pipeline FILE" OCHRE_HELP},
    {Msg::TakesOneFile, "takes-one-file", Code::Usage, "'{}' takes one FILE" OCHRE_HELP},
    {Msg::TakesAtMostOneFile, "takes-at-most-one-file", Code::Usage, "'{}' takes at most one FILE" OCHRE_HELP},
    {Msg::ExplainTakes, "explain-takes", Code::Usage, "'explain' takes a FILE and a KEY" OCHRE_HELP},
    {Msg::EnterTakes, "enter-takes", Code::Usage, "'enter' takes FILE KEY [METHOD]" OCHRE_HELP},
    {Msg::LogTakes, "log-takes", Code::Usage, "'log' takes no arguments" OCHRE_HELP},
    {Msg::HistoryTakes, "history-takes", Code::Usage, "'history' takes one KEY" OCHRE_HELP},
    // {} is the sub-command's shape, e.g. "show KEY"
    {Msg::StateUsage, "state-usage", Code::Usage, "usage: ochre state {}" OCHRE_HELP},
    {Msg::StateUnknownCommand, "state-unknown-command", Code::Usage,
     "unknown 'state' command '{}' (list, show, rm, mv, migrate)" OCHRE_HELP},
    {Msg::MigrateUsage, "migrate-usage", Code::Usage,
     "usage: ochre state migrate --from STATE --to STATE [FILE]" OCHRE_HELP},
    {Msg::TestStateDir, "test-state-dir", Code::State, "state '{}': cannot make a throw-away state directory"},
    {Msg::NoJobFor, "no-job-for", Code::NotNow, "no job for {} in the plan"},
    // Ctrl-C while the REPL runs a line (bindings/loader.cpp, Session::interrupt)
    {Msg::EvalInterrupted, "eval-interrupted", Code::LuaRuntime, "interrupted"},
    // Ctrl-C during the REPL's :step or :continue (cli/repl.cpp), as `run` says it
    {Msg::ReplInterrupted, "repl-interrupted", Code::NotNow,
     "Interrupted: no new jobs start; waiting for the running ones to finish (Ctrl-C again to kill them)"},
    {Msg::ReplInterruptedAgain, "repl-interrupted-again", Code::NotNow, "Interrupted again: killing the running jobs"},
    // the server
    {Msg::ListenInUse, "listen-in-use", Code::Listen,
     "the port is in use (another server runs there); choose another with --port"},
    {Msg::ListenDenied, "listen-denied", Code::Listen,
     "permission denied (ports below 1024 need privileges); choose another with --port"},
    {Msg::ListenNoAddress, "listen-no-address", Code::Listen,
     "no such address on this machine; pass one of its addresses with --host"},
    {Msg::ListenFailed, "listen-failed", Code::Listen, "cannot listen there{}; check --host and --port"},
    {Msg::ListenErrno, "listen-errno", Code::Listen, " ({})"},
    {Msg::HttpCannotLoad, "http-cannot-load", Code::Listen, "cannot load {} ({}): reinstall ochre"},
    {Msg::HttpNotModule, "http-not-module", Code::Listen, "{} is not this ochre's HTTP module: reinstall ochre"},
    {Msg::HttpMissing, "http-missing", Code::Listen,
     "ochre's HTTP module is missing (looked for {}): reinstall ochre"},
    {Msg::MissingKeyParam, "missing-key-param", Code::Usage, "missing ?key=Type/identifier"},
    {Msg::ServerStopping, "server-stopping", Code::NotNow, "the server is stopping"},
    {Msg::ServerReadOnly, "server-read-only", Code::NotNow,
     "read-only: start 'ochre serve' with --allow-apply to apply from the page"},
    {Msg::ServerApplying, "server-applying", Code::NotNow, "applying {}"},
    // what is wrong with a webhook URL
    {Msg::WebhookScheme, "webhook-scheme", Code::Usage, "a webhook URL starts with http:// or https://"},
    {Msg::WebhookSpaces, "webhook-spaces", Code::Usage, "a webhook URL has no spaces or control characters"},
    {Msg::WebhookNoHost, "webhook-no-host", Code::Usage, "the webhook URL names no host"},
    {Msg::WebhookUserinfo, "webhook-userinfo", Code::Usage,
     "a webhook URL holds no user or password (the signature says the event is from ochre)"},
    {Msg::WebhookFragment, "webhook-fragment", Code::Usage, "a webhook URL has no #fragment"},
    {Msg::WebhookPort, "webhook-port", Code::Usage, "the webhook URL's port is not a number from 1 to 65535"},    // lifecycle options and pools (bindings/dsl.lua, graph_builder.cpp)
    {Msg::SettingsPools, "settings-pools", Code::LuaRuntime,
     "ochre.settings: pools takes names and sizes, e.g. pools = { db = 2 } (got {})"},
    {Msg::SettingsPoolSize, "settings-pool-size", Code::LuaRuntime,
     "ochre.settings: pool '{}' takes a whole number of jobs, 1 or more (got {})"},
    {Msg::LifecycleTable, "lifecycle-table", Code::LuaRuntime,
     "{} takes a table of options, e.g. { protect = true, retry = { attempts = 3 } } (got {})"},
    {Msg::LifecycleUnknown, "lifecycle-unknown", Code::LuaRuntime, "{}: unknown option '{}'{}"},
    {Msg::LifecycleType, "lifecycle-type", Code::LuaRuntime, "{}: {} takes {} (got {})"},
    {Msg::LifecycleInteger, "lifecycle-integer", Code::LuaRuntime, "a whole number, {} or more"},
    {Msg::LifecycleNumber, "lifecycle-number", Code::LuaRuntime, "a number, {} or more"},
    {Msg::LifecyclePoolName, "lifecycle-pool-name", Code::LuaRuntime,
     "the name of a pool of ochre.settings { pools = { NAME = N } }"},
    {Msg::LifecycleInstance, "lifecycle-instance", Code::LuaRuntime,
     "ochre.lifecycle takes an instance and its options, e.g. ochre.lifecycle(Db \"prod\" { ... }, "
     "{ protect = true }) (got {})"},
    {Msg::PoolUnknown, "pool-unknown", Code::BadValue,
     "{} runs in pool '{}', which ochre.settings { pools = { ... } } does not declare{}"},
    // protect, retries, exclude (engine/workspace.cpp, lifecycle.cpp, apply.cpp)
    {Msg::Protected, "protected", Code::NotNow,
     "refused: the plan would delete or replace protected instances (nothing ran):\n{}\nto allow it, "
     "declare each with ochre.lifecycle(instance, { protect = false }) (or drop protect from its "
     "type's lifecycle) and run once, then delete it"},
    {Msg::ProtectedItem, "protected-item", Code::NotNow, "  {} ({})"},
    {Msg::RetryAttempt, "retry-attempt", Code::HookFailed, "attempt {} of {} failed, tried again in {}s: {}"},
    {Msg::ExcludeDeleted, "exclude-deleted", Code::Usage,
     "--exclude {}: {} must be deleted before {}, which this run deletes; exclude {} too or not at all"},
    // moved and removed (bindings/dsl.lua, engine/lifecycle.cpp)
    {Msg::MovedTable, "moved-table", Code::LuaRuntime,
     "ochre.moved takes { from = \"Type/old\", to = \"Type/new\" } (got {})"},
    {Msg::MovedTaken, "moved-taken", Code::NotNow,
     "ochre.moved from {} to {}: the state already holds {}; remove one of them first"},
    {Msg::RemovedTable, "removed-table", Code::LuaRuntime,
     "ochre.removed takes { key = \"Type/id\", destroy = false } (got {})"},
    {Msg::MovedTypes, "moved-types", Code::LuaRuntime,
     "ochre.moved renames an identifier: {} and {} have different types"},
    {Msg::MovedTwice, "moved-twice", Code::LuaRuntime, "{} is moved twice: at {} and here"},
    {Msg::RemovedDeclared, "removed-declared", Code::NotNow,
     "ochre.removed {}: the pipeline still declares it (at {}); drop one of them"},
    {Msg::PlanMoved, "plan-moved", Code::NotNow, "moved: {} -> {} (in the state only, no job)"},
    {Msg::PlanForgotten, "plan-forgotten", Code::NotNow,
     "removed: {} leaves the state, not deleted (ochre.removed destroy = false)"},
    // import (cli/, engine/workspace.cpp)
    {Msg::ImportTakes, "import-takes", Code::Usage, "'import' takes a FILE and a KEY" OCHRE_HELP},
    {Msg::ImportNoRead, "import-no-read", Code::NotNow,
     "cannot import {}: its type {} has no read hook to see what exists (add read = function(self) ... end)"},
    {Msg::ImportStored, "import-stored", Code::NotNow, "cannot import {}: the state holds it already"},
    {Msg::ImportDone, "import-done", Code::NotNow, "imported {}"},
    {Msg::Imported, "imported", Code::NotNow,
     "Imported {} (its read hook ran, no create); 'ochre plan' shows what still differs"},
    // watch --cron (cli/cron.cpp)
    {Msg::CronFields, "cron-fields", Code::Usage,
     "--cron takes five fields: minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\" (got '{}')" OCHRE_HELP},
    {Msg::CronField, "cron-field", Code::Usage, "--cron '{}': the {} field '{}' {}" OCHRE_HELP},
};
#undef OCHRE_TYPE
#undef OCHRE_HELP
#undef OCHRE_RETURNED

const MsgEntry& entry(Msg msg) {
  // The table is in the enum's order (checked below), so the enum indexes it.
  return messages[static_cast<int>(msg)];
}

constexpr bool in_enum_order() {
  for (int i = 0; i < static_cast<int>(sizeof messages / sizeof messages[0]); ++i)
    if (static_cast<int>(messages[i].msg) != i) return false;
  return true;
}
static_assert(in_enum_order(), "messages[] must list every Msg in the enum's order");
// The last enumerator: keep it the last when adding messages.
static_assert(sizeof messages / sizeof messages[0] == static_cast<int>(Msg::CronField) + 1);

std::string format(const char* t, std::initializer_list<std::string_view> args) {
  std::string out;
  auto arg = args.begin();
  for (; *t; ++t) {
    if (t[0] == '{' && t[1] == '}') {
      if (arg != args.end()) out += *arg++;
      ++t;
    } else {
      out += *t;
    }
  }
  return out;
}

const Entry& entry(Code code) {
  for (const Entry& e : catalog)
    if (e.code == code) return e;
  return catalog[sizeof catalog / sizeof catalog[0] - 1];
}

}  // namespace

std::string message(Code code, std::initializer_list<std::string_view> args) {
  return format(entry(code).text, args);
}

std::string message(Msg msg, std::initializer_list<std::string_view> args) {
  return format(entry(msg).text, args);
}

const char* msg_name(Msg msg) { return entry(msg).name; }

const char* current_phase() { return phase_now().load(std::memory_order_relaxed); }
Code msg_code(Msg msg) { return entry(msg).code; }

const MessageText* message_texts(std::size_t* count) {
  static const auto texts = [] {
    std::vector<MessageText> v;
    for (const MsgEntry& e : messages) v.push_back({e.name, e.text});
    return v;
  }();
  *count = texts.size();
  return texts.data();
}

const char* code_name(Code code) { return entry(code).name; }
ErrorKind code_kind(Code code) { return entry(code).kind; }

int exit_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::User: return 2;
    case ErrorKind::Hook: return 1;
    case ErrorKind::Locked: return 3;
    case ErrorKind::Internal: return 4;
  }
  return 4;
}

std::string Error::display() const {
  if (where_.empty()) return what();
  return where_ + ": " + what();
}

void fail(Msg msg, std::initializer_list<std::string_view> args, std::string where) {
  throw Error(entry(msg).code, message(msg, args), std::move(where));
}

void fail(Code code, std::initializer_list<std::string_view> args, std::string where) {
  throw Error(code, message(code, args), std::move(where));
}

}  // namespace ochre
