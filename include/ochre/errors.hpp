// The error catalog: every message ochre shows a user lives here, with a stable code,
// so tests and users can rely on both. Three kinds, three looks (STYLE.md, "Errors").
#pragma once
#include <cstddef>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ochre {

enum class ErrorKind {
  User,      // bad pipeline, bad flag: one line, no traceback, exit 2
  Hook,      // a hook raised: its job failed, exit 1
  Locked,    // the state is held by another process, exit 3
  Internal,  // a bug in ochre
};

enum class Code {
  Usage = 1,          // bad command line
  NoFile,             // pipeline file missing or unreadable
  LuaSyntax,          // the pipeline does not parse
  LuaRuntime,         // the pipeline raised while loading
  BadReturn,          // the pipeline returned neither an instance nor a list of them
  UnknownField,       // a field the type does not declare
  MissingField,       // a required field left out
  BadValue,           // function, userdata, cycle, NaN, ... in a field
  BadIdentifier,      // identifier is not a non-empty string
  BadType,            // a component type declaration is malformed
  Duplicate,          // two different definitions under one Type/identifier
  Cycle,              // a dependency cycle
  TypeGone,           // state holds instances of a type the pipeline no longer defines
  UnknownKey,         // a KEY on the command line that is nowhere
  State,              // the state store cannot be opened or is damaged
  StateVersion,       // the state was written by a newer ochre
  Locked,             // another ochre holds the state
  NotNow,             // a request that does not fit the current state of things
  HookFailed,         // a hook raised an error
  Internal,           // a bug
  Listen,             // `ochre serve` cannot listen on the address asked for
};

// The messages of the catalog beyond one per code: each has a stable name (its
// enumerator in kebab-case, e.g. Msg::SettingsUnknown is "settings-unknown"), the code
// it is raised with, and a text with `{}` placeholders. The Lua layer gets its texts
// from here too (by name), so every text a user can see lives in engine/errors.cpp.
enum class Msg {
  // the DSL (bindings/dsl.lua)
  TestName, TestFunction, SettingsTable, SettingsUnknown, SettingsString, SettingsWorkspace,
  PendingReason, OsExit, CommandFailed, CommandTimedOut, CommandExited, CommandKilled,
  SuggestNear, SuggestNoFields, SuggestFields, HintList, FieldNan, FieldInfinite,
  FieldRequiredValue, FieldProblem, FieldTooDeep, FieldKeyNotFinite, PathMethod, PathRelative,
  PathLeaves, UnknownField, IdentifierFixed, FieldsGiven, FieldsTable, FieldNameString,
  FieldReservedSet, MissingField, BadIdentifier, TypeName, TypeSpec, TypeDefined, TypeEntryKey,
  TypeHookNotFunction, TypeEntryUnknown, TypeFields, TypeFieldName, TypeFieldReserved,
  TypeFieldMethod, TypeDefault, TypeBreaks, TypeBreaksUnknown, TypeBreaksTwice, TypeSensitive,
  TypeSensitiveIdentifier, TypeSensitiveUnknown, TypeSensitiveTwice, NotifyTable,
  NotifyEventAsEntry, NotifyUnknownEntry, NotifyNoUrl, NotifyUrlType, NotifyUrlBad,
  NotifyNoSecret, NotifySecretType, NotifyEvents, NotifyEventsHint, NotifyUnknownEvent,
  // what a field may hold (the DSL and bindings/convert.cpp)
  ValueType, ValueMetatable, ValueCycle, ValueKeyType, ValueMixedKeys, ValueNan, ValueInfinite,
  ValueTooDeep, ValueAt, ValueInstanceJson, ValueInstanceOutput, ValueKeySuffix,
  // the natives (bindings/natives.cpp, waits.cpp, module.cpp, hooks.cpp, ...)
  NativeTakes, JsonEncode, JsonDecode, WaitHere, WaitTimeout, SleepSeconds, WaitFileTakes,
  WaitPidTakes, ShEnvTable, ShEnvNames, ShEnvValue, ShTakes, ShOptions, ShCwd, ShStdin, ShUnknownOption, ShQuiet, ShFailed,
  ShCannotStart, VerbInHook, VerbTakes, PrintTostring, CannotCreate, StdlibNoModule,
  HookOutputs, HookReturn, HookYielded, HookFailed, HookTimedOut, HookStuck, StoredGone, NativeType, BadKey, WaitingOnNothing,
  LuaStateMemory, NoEmbedded, BadArgument,
  // the cluster executor (engine/slurm.cpp, bindings/cluster.cpp)
  ShExecutor, ShSlurmTable, ShSlurmOption, SlurmNoSbatch, SlurmRejected, SlurmUnreachable, SlurmEnded,
  SlurmLost, SlurmDirectory, SettingsExecutor,
  // the loader and the engine (bindings/loader.cpp, bindings/engine.cpp)
  ReturnedNothing, ReturnedEmptyTable, ReturnedNamedTable, ReturnedBadItem, ReturnedValue,
  LoadDirectory, LoadNotFile, WatchFifo, LoadBytecode, UvLoopInit, NoPlanYet, WebhookBad, WebhookNoSecret,
  WebhookUnknownEvent, UnknownKeyInState, NoJob, ApplyUnderWay, ApplyAlreadyUnderWay, PlanEmpty,
  NotApplied, NoMethod,
  // deferred decisions (engine/apply.cpp, bindings/graph_builder.cpp)
  TypeCutoff, RereadRef, CutoffFailed,
  // the state stores (engine/state*.cpp, canonical.cpp, lock.cpp, pq.cpp, migrate.cpp)
  StateIsDirectory, StateNotSqlite, StateCannotOpen, StateStep, StateMkdir, StateNoInstancesTable,
  StateForeignSqlite, StateNotEmptyFile, StateNotEmptyWorkspace, ReadOnlyWrite, PgSchemaName,
  PgCannotConnect, PgConnectionLost, PgCommitFailed, PqCannotLoad, PqNotFound, PqMissingFunction,
  LockFileOpen, LockFailed, LockedNoTimeout, DamagedEncoding, DamagedVersion, DamagedRow,
  DamagedRowForget, MigrateSame, MigrateNothing, MigrateDiffers, MigratePlansDiffer,
  OutOfMemory, OutOfMemoryIn, UnknownError, StateWriteInRun,
  // state mv and the other inspections (engine/inspect.cpp, plan_format.cpp, planner.cpp, ...)
  NotAKey, MoveTypes, MoveTaken, MoveOlder, MoveDangling, UnknownKeyInPipeline,
  UnknownKeyNotStored, UnknownKeyAnywhere, GraphFormat,
  // running jobs (engine/apply.cpp, graph.cpp, planner.cpp, hash.cpp, notify.cpp, delivery.cpp)
  JobNotReady, JobNotSkippable, JobsWaitOnNothing, RefUnknown, PlanCycle, Sha256Failed,
  HmacFailed, NoRandomBytes, NotSentYet,
  // the command line (cli/)
  OptionNumber, OptionInteger, OptionStateEmpty, StateDanglingLink, OptionPort, OptionNeedsValue, OptionHost,
  OptionColor, OptionUnknown, OptionOfOtherCommand, OptionMisspelt, OptionExecutor, DeleteDeclined,
  OptionEvery, NoCommand, UnknownCommand, NotifyUrl, NotifyNoSecretEnv, WorkspaceName,
  NeedsFile, TakesOneFile, TakesAtMostOneFile, ExplainTakes, EnterTakes, LogTakes, HistoryTakes,
  StateUsage, StateUnknownCommand, MigrateUsage, TestStateDir, NoJobFor, EvalInterrupted,
  ReplInterrupted, ReplInterruptedAgain,
  // the server (serve/)
  ListenInUse, ListenDenied, ListenNoAddress, ListenFailed, ListenErrno, HttpCannotLoad,
  HttpNotModule, HttpMissing, MissingKeyParam, ServerStopping, ServerReadOnly, ServerApplying,
  // what is wrong with a webhook URL (engine/notify.cpp)
  WebhookScheme, WebhookSpaces, WebhookNoHost, WebhookUserinfo, WebhookFragment, WebhookPort,
  // lifecycle options, pools, protect, retries, exclude, moved/removed, import, cron
  // (bindings/dsl.lua, graph_builder.cpp, engine/workspace.cpp, lifecycle.cpp, apply.cpp, cli/)
  SettingsPools, SettingsPoolSize, LifecycleTable, LifecycleUnknown, LifecycleType,
  LifecycleInteger, LifecycleNumber, LifecyclePoolName, LifecycleInstance, PoolUnknown,
  Protected, ProtectedItem, RetryAttempt, ExcludeDeleted, MovedTable, MovedTaken, RemovedTable,
  MovedTypes, MovedTwice, RemovedDeclared, PlanMoved, PlanForgotten, ImportTakes, ImportNoRead,
  ImportStored, ImportDone, Imported, CronFields, CronField,
};

// Formats the catalog text for `code` with `{}` placeholders filled in order.
std::string message(Code code, std::initializer_list<std::string_view> args = {});
// Formats the text of `msg`, like message(Code, ...).
std::string message(Msg msg, std::initializer_list<std::string_view> args = {});
// What the process was doing ("planning", "applying the plan"), for an error with no
// better place to point at, such as running out of memory outside Lua.
const char* current_phase();
// The stable name of a message ("settings-unknown") and the code it is raised with.
const char* msg_name(Msg msg);
Code msg_code(Msg msg);
// Every message as (name, text), for the Lua layer.
struct MessageText {
  const char* name;
  const char* text;
};
const MessageText* message_texts(std::size_t* count);

// The stable short name of a code, e.g. "unknown-field".
const char* code_name(Code code);
ErrorKind code_kind(Code code);
// The exit status a process should end with for this kind of error.
int exit_status(ErrorKind kind);

// The one exception type of the engine. `where` is the user's file:line when known.
class Error : public std::runtime_error {
 public:
  Error(Code code, std::string text, std::string where = {})
      : std::runtime_error(std::move(text)), code_(code), where_(std::move(where)) {}
  Code code() const { return code_; }
  ErrorKind kind() const { return code_kind(code_); }
  const std::string& where() const { return where_; }
  // "file:line: message" or just the message.
  std::string display() const;

 private:
  Code code_;
  std::string where_;
};

// Throws an Error built from the catalog.
[[noreturn]] void fail(Code code, std::initializer_list<std::string_view> args = {},
                       std::string where = {});
// Throws an Error with the text of `msg` and its code.
[[noreturn]] void fail(Msg msg, std::initializer_list<std::string_view> args = {},
                       std::string where = {});

}  // namespace ochre
