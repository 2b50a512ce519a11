---@meta ochre
-- LuaLS (lua-language-server) definitions of ochre's Lua API: the DSL, the waiting
-- calls, the built-in helpers and the stdlib. Point your editor at it, e.g. in
-- .luarc.json: { "runtime.version": "LuaJIT", "workspace.library": ["path/to/ochre/docs"] }
-- Nothing here runs: ochre's binary carries the real code.

---Data a field may hold: nil, booleans, finite numbers, strings, tables of those, and
---instances (which make dependencies).
---@alias ochre.Data nil|boolean|number|string|table|ochre.Instance

---A component instance, `Type/identifier`. Reading a field gives its value; reading an
---unknown field is an error; assigning checks the value at the assigning line.
---@class ochre.Instance
---@field identifier string
---@field outputs table What create/update returned (from the state in later runs).
---@overload fun(fields: table): ochre.Instance Gives the fields: `T "id" { ... }`.
local Instance = {}

---A file in this instance's own area of the state directory (the directory is made);
---without a name, the directory. Removed when the instance is deleted.
---@param name? string a relative file name
---@return string
function Instance:path(name) end

---The table returned by `ochre.pending`.
---@class ochre.Pending
---@field reason string

---What `ochre.component "Name" { ... }` takes.
---@class ochre.ComponentSpec
---@field breaks? string[] Fields whose change replaces the instance (delete, then create).
---@field sensitive? string[] Fields whose values are never shown (plans, explain, --json, the REPL): "(sensitive)" instead. Still hashed and stored; the state file is owner-only.
---@field fields? table<string, any> Field name -> default; `ochre.required` for none, `ochre.optional` for a field left out (not hashed) until given.
---@field cutoff? boolean|fun(self: ochre.Instance): boolean Dependents react to this type's outputs, not its fields: when an update leaves the outputs as stored, what changed only through it does not run (its ids move on, the journal says "cutoff").
---@field doc? string
---@field lifecycle? ochre.Lifecycle Default lifecycle options of its instances (never hashed).
---@field create? fun(self: ochre.Instance): (table|ochre.Pending|nil) May return outputs.
---@field read? fun(self: ochre.Instance): table|nil Runs before hashing on every plan; may set fields. What it returns is ignored, but by `ochre import`, which stores a returned table as the instance's outputs.
---@field update? fun(self: ochre.Instance, old: ochre.Instance): (table|ochre.Pending|nil) Nothing returned keeps the outputs.
---@field delete? fun(self: ochre.Instance) `self` is the stored version.
---@field validate? fun(self: ochre.Instance) Checks an instance's fields once they are given, where it is declared: raise to reject it (the error points at the declaring line). Not called for instances read from the state.
---@field test? fun(self: ochre.Instance) `ochre test FILE` calls it on each applied instance of the type; raise to fail. May use the waiting calls.
---@field enter? fun(self: ochre.Instance) `ochre enter KEY` calls it with the terminal (e.g. a shell in a container); `ochre enter KEY METHOD` calls another method.
---@field [string] function Any other function becomes a method of the instances.

---A component type: call it with an identifier, then with the fields.
---How an instance's jobs run; never hashed, so changing it plans nothing (docs/lifecycle.md).
---Example: `lifecycle = { protect = true, retry = { attempts = 3, delay = 2, backoff = 2 }, pool = "db" }`
---@class ochre.Lifecycle
---@field protect? boolean Refuse (exit 2, before any job runs) a plan that deletes or replaces it: destroy, removal from the pipeline, a breaking change, --replace. Kept in the state.
---@field retry? ochre.Retry A failing hook is tried again in the same run.
---@field pool? string A pool of `ochre.settings { pools = { NAME = N } }`: at most N of its jobs at once.
---@field timeout? number Seconds a hook may take (0: the run's default).

---@class ochre.Retry
---@field attempts? integer In all, the first included (default 1: no retry).
---@field delay? number Seconds before the second attempt (default 0).
---@field backoff? number Each later wait is the previous one times this (default 1).

---@class ochre.Type
---@field name string
---@overload fun(identifier: string): ochre.Instance

---@class ochre.ShOptions
---@field env? table<string, string|number|false> Added to the environment; false removes.
---@field cwd? string
---@field stdin? string
---@field timeout? number Seconds; the command is killed then (code 124).
---@field quiet? boolean Do not show or store its output as the job's.
---@field check? boolean Raise unless it exits 0.
---@field executor? "local"|"slurm" Where it runs (default: ochre.settings, --executor, else local).
---@field slurm? ochre.SlurmOptions sbatch options, on top of ochre.settings { slurm = ... }.

---@class ochre.SlurmOptions
---@field partition? string
---@field cpus? integer --cpus-per-task
---@field mem? string e.g. "8G"
---@field time? string e.g. "01:00:00"
---@field gpus? integer
---@field name? string the job name (default: the instance's key)
---@field extra? string[] more sbatch options, e.g. { "--constraint=a100" }

---@class ochre.ShResult
---@field code integer|nil nil when killed by a signal; 124 on timeout.
---@field stdout string
---@field stderr string
---@field timed_out boolean
---@field signal? integer
---@field slurm_job? string the Slurm job id, for a command run on Slurm

---@class ochre.WaitOptions
---@field timeout? number Seconds; 0 or nil waits forever.

---@class ochre.Stat
---@field size number
---@field mtime number seconds since the epoch, with fractions
---@field mode integer permission bits (e.g. 420 for 0644)
---@field type "file"|"directory"|"link"|"other"

---An event ochre notifies webhooks of.
---@alias ochre.NotifyEvent "run.started"|"run.finished"|"run.failed"|"job.failed"|"component.replaced"

---What `ochre.notify { ... }` takes.
---@class ochre.NotifySpec
---@field url string http:// or https://; each event is POSTed there as JSON.
---@field secret string Signs each body (HMAC-SHA256, hex, in the X-Ochre-Signature header). Required; take it from the environment: `os.getenv "HOOK_SECRET"`.
---@field events? ochre.NotifyEvent[] Only these; without it, every event.

---@class ochre
local ochre = {}

-- ---- The DSL -----------------------------------------------------------------------

---Marks a field that has no default: every instance must give it.
ochre.required = {}

---Marks a field that has no default and is left out of the instance (not hashed, not
---stored) until it is given a value: a type can gain a field without changing the ids
---of the instances that do not use it.
ochre.optional = {}

---Defines a component type: `ochre.component "Name" { fields = {...}, create = ... }`.
---@param name string a word like "Processor"; unique in a pipeline
---@return fun(spec: ochre.ComponentSpec): ochre.Type
function ochre.component(name) end

---The built-in type with no fields and no hooks.
---@type ochre.Type
ochre.Component = nil

---From a hook: not finished yet. The job stays pending, its dependents wait, and the
---next run calls the hook again.
---@param reason? string
---@return ochre.Pending
function ochre.pending(reason) end

---The options of `ochre.apply`, `ochre.plan` and `ochre.destroy` in a LuaJIT host
---(ignored by `ochre run|plan|destroy`, where the command line decides).
---@class ochre.VerbOptions
---@field state? string The state: a SQLite file or a postgres:// URL (default: $OCHRE_STATE, else ".ochre/state.db").
---@field jobs? integer Jobs at once (default: twice the cores, at least 4).
---@field print? boolean Write the plan table, the jobs' output and each failure to stdout. Without it (or `output`) nothing is printed.
---@field output? fun(line: string) Receives each of those lines (without its newline) instead; called on the calling thread, never inside a hook.
---@field quiet? boolean Accepted for older hosts; printing is off unless asked.

---A job of a plan, as `ochre.plan` returns it.
---@class ochre.PlannedJob
---@field action "create"|"update"|"delete"
---@field key string "Type/identifier"
---@field uuid string
---@field details string "Type/identifier/uuid.action", as the plan table shows it
---@field reason string Why: "new", "changed: port", "retry: the last create failed", ...
---@field deps integer[] The jobs it waits for, as 0-based indexes into the plan.

---A job that failed or was interrupted, in `ochre.ApplyResult.failures`.
---@class ochre.FailedJob
---@field key string "Type/identifier"
---@field action "create"|"update"|"delete"
---@field details string "Type/identifier/uuid.action"
---@field outcome "failed"|"interrupted"
---@field error string The hook's message at its file:line, with a traceback.

---What `ochre.apply` and `ochre.destroy` return in a LuaJIT host.
---@class ochre.ApplyResult
---@field ok boolean Every job finished (or is pending): no failure, skip or interrupt.
---@field done integer
---@field failed integer
---@field skipped integer Not run because what they depend on failed (or Ctrl-C).
---@field pending integer Answered `ochre.pending`: called again by the next apply.
---@field waiting integer Waiting on pending ones.
---@field interrupted integer
---@field summary string "3 done, 1 failed", or "No changes needed – doing nothing!"
---@field failures ochre.FailedJob[] Each failed or interrupted job with its error, in the order they ended.

---Makes `roots` (an instance or a list) what `ochre run|plan|destroy` works on. In a
---LuaJIT host that did `require "ochre"`, plans and applies them for real and returns
---the result (each call ends a load: a type declared again afterwards replaces the
---earlier one, so an edited pipeline file can be run again in the same Lua state).
---@param roots ochre.Instance|ochre.Instance[]
---@param opts? ochre.VerbOptions
---@return ochre.ApplyResult|nil result nil under `ochre run|plan|destroy`
function ochre.apply(roots, opts) end

---The same for planning only: nothing is written. In a LuaJIT host, returns the jobs.
---@param roots ochre.Instance|ochre.Instance[]
---@param opts? ochre.VerbOptions
---@return ochre.PlannedJob[]|nil jobs nil under `ochre run|plan|destroy`
function ochre.plan(roots, opts) end

---The same for deleting everything `roots` applied, dependents first. In a LuaJIT
---host, returns the result as `ochre.apply` does.
---@param roots ochre.Instance|ochre.Instance[]
---@param opts? ochre.VerbOptions
---@return ochre.ApplyResult|nil result nil under `ochre run|plan|destroy`
function ochre.destroy(roots, opts) end

---A webhook this pipeline's applies notify (run, destroy, watch, the REPL's steps):
---`ochre.notify { url = "https://...", events = { "run.failed", "job.failed" }, secret = os.getenv "HOOK_SECRET" }`.
---May be called several times. Events wait in the state's outbox until the webhook
---answers 2xx, and are retried (also by later runs). A bad url, an unknown event or a
---missing secret is an error at the calling line.
---@param spec ochre.NotifySpec
function ochre.notify(spec) end

-- ---- Waiting calls (they yield to other jobs inside a hook) -----------------------

---Runs `cmd` with /bin/sh. A non-zero exit is data unless `opts.check`.
---@param cmd string
---@param opts? ochre.ShOptions
---@return ochre.ShResult
function ochre.sh(cmd, opts) end

---Like `ochre.sh`, raising unless the command exits 0.
---@param cmd string
---@param opts? ochre.ShOptions
---@return ochre.ShResult
function ochre.sh_ok(cmd, opts) end

---@param seconds number
function ochre.sleep(seconds) end

---Where the pipeline's state lives, when no `--state` / `OCHRE_STATE` (and no
---`--workspace` / `OCHRE_WORKSPACE`) says otherwise: a SQLite file (relative to the
---pipeline) or a PostgreSQL URL, and a workspace within it.
---`pools`: at most N jobs of each pool at once (within -j), e.g. `pools = { db = 2 }`.
---@param settings { state?: string, workspace?: string, executor?: "local"|"slurm", slurm?: ochre.SlurmOptions, pools?: table<string, integer> }
function ochre.settings(settings) end

---This instance's lifecycle options over its type's; returns the instance.
---`return ochre.lifecycle(Db "prod" { size = 10 }, { protect = true })`
---An unknown option or a wrong type is exit 2 at this line, with the closest option suggested.
---@generic I: ochre.Instance
---@param instance I
---@param options ochre.Lifecycle
---@return I
function ochre.lifecycle(instance, options) end

---The stored instance `from` is renamed `to` (the same type) before the plan, as `ochre
---state mv` does: ids recomputed, history and references follow, no delete and no
---create. `plan` shows it; `run` writes it (`plan` writes nothing). Ignored once `from`
---is no longer in the state; exit 2 when `to` already is.
---`ochre.moved { from = "Db/old", to = "Db/new" }`
---@param move { from: string, to: string }
function ochre.moved(move) end

---An instance the pipeline no longer declares: with `destroy = false` (the default) it
---leaves the state without its delete hook, as `ochre state rm` does, but reviewed in
---code, shown by `plan` and written by `run`; with `destroy = true` it is deleted as any
---instance removed from the pipeline. Ignored once the state no longer holds it; exit 2
---while the pipeline still declares it.
---`ochre.removed { key = "Db/old", destroy = false }`
---@param removal { key: string, destroy?: boolean }
function ochre.removed(removal) end

---A check `ochre test FILE` runs after applying the pipeline (and before destroying
---it): `ochre.test("name", fn)` or `ochre.test "name" (fn)`. `fn` fails by raising and
---may use the waiting calls. Instances whose type has a `test(self)` method are checked too.
---@param name string
---@param fn? fun()
---@return fun(fn: fun())|nil
function ochre.test(name, fn) end

---True once `path` exists, false on timeout.
---@param path string
---@param opts? ochre.WaitOptions
---@return boolean
function ochre.wait_file(path, opts) end

---True once process `pid` is gone, false on timeout.
---@param pid integer
---@param opts? ochre.WaitOptions
---@return boolean
function ochre.wait_pid(pid, opts) end

-- ---- Built-in helpers ------------------------------------------------------------

ochre.json = {}

---@param v any data (no instances)
---@return string
function ochre.json.encode(v) end

---@param s string
---@return any
function ochre.json.decode(s) end

---SHA-256 of a string, in hex.
---@param s string
---@return string
function ochre.sha256(s) end

---SHA-256 of a file's bytes, in hex; nil and a message when it cannot be read.
---@param path string
---@return string|nil hex
---@return string? err
function ochre.sha256_file(path) end

---File system calls; failures return nil and a message, like io.open.
ochre.fs = {}

---@param path string
---@return string|nil data
---@return string? err
function ochre.fs.read(path) end

---Writes the whole file (beside it, then renamed).
---@param path string
---@param data string
---@param mode? integer e.g. tonumber("644", 8)
---@return true|nil ok
---@return string? err
function ochre.fs.write(path, data, mode) end

---@param path string
---@return boolean
function ochre.fs.exists(path) end

---Makes the directory and its missing parents.
---@param path string
---@return true|nil ok
---@return string? err
function ochre.fs.mkdir(path) end

---Removes a file, or a directory with everything in it.
---@param path string
---@return true|nil ok
---@return string? err
function ochre.fs.remove(path) end

---The names in a directory, sorted.
---@param path string
---@return string[]|nil names
---@return string? err
function ochre.fs.list(path) end

---@param path string
---@return ochre.Stat|nil
---@return string? err
function ochre.fs.stat(path) end

-- ---- Stdlib helpers --------------------------------------------------------------

---`template` with every `{{name}}` (dotted for nested keys) replaced by its value in
---`vars`; an unknown name is an error. `{{{{` writes `{{`.
---@param template string
---@param vars? table
---@return string
function ochre.render(template, vars) end

---`s` in single quotes, safe in a shell command.
---@param s string|number
---@return string
function ochre.quote(s) end

---SQL through the sqlite3 command-line tool.
ochre.sqlite = {}

---Runs the statements; raises on the first error.
---@param db string
---@param sql string
---@return true
function ochre.sqlite.exec(db, sql) end

---The rows of a query, each a table of column = value.
---@param db string
---@param sql string
---@return table[]
function ochre.sqlite.query(db, sql) end

---A value as an SQL literal ('it''s', 42, NULL, 1/0 for booleans).
---@param v string|number|boolean|nil
---@return string
function ochre.sqlite.literal(v) end

---A name quoted as an SQL identifier.
---@param name string
---@return string
function ochre.sqlite.ident(name) end

---Leveled messages (string.format); OCHRE_LOG sets the threshold (default info).
ochre.log = {}
---@param fmt string
---@param ... any
function ochre.log.debug(fmt, ...) end
---@param fmt string
---@param ... any
function ochre.log.info(fmt, ...) end
---@param fmt string
---@param ... any
function ochre.log.warn(fmt, ...) end
---@param fmt string
---@param ... any
function ochre.log.error(fmt, ...) end

---The environment, with defaults and conversions.
ochre.env = {}

---The value, or `default` when unset or empty.
---@param name string
---@param default? string
---@return string|nil
function ochre.env.get(name, default) end

---The value; an error at the caller's line when unset or empty.
---@param name string
---@return string
function ochre.env.required(name) end

---@param name string
---@param default? number
---@return number|nil
function ochre.env.number(name, default) end

---true for 1/true/yes/on, false for 0/false/no/off.
---@param name string
---@param default? boolean
---@return boolean
function ochre.env.flag(name, default) end

-- ---- Stdlib components -----------------------------------------------------------

---@class ochre.FileFields
---@field path string breaking
---@field content? string
---@field mode? string|false an octal string like "0644"
---@field inputs? table instances applied first

---@class ochre.FileOutputs
---@field path string
---@field sha256 string
---@field size integer
---@field repairs integer
---@field made_dirs string[]

---@class ochre.File: ochre.Instance
---@field path string
---@field content string
---@field mode string|false
---@field inputs table
---@field repairs integer
---@field outputs ochre.FileOutputs

---A file with the declared content and mode; drift is repaired.
---@type fun(identifier: string): fun(fields: ochre.FileFields): ochre.File
ochre.File = nil

---@class ochre.DirFields
---@field path string breaking
---@field mode? string|false
---@field inputs? table

---@class ochre.Dir: ochre.Instance
---@field path string
---@field mode string|false
---@field inputs table
---@field repairs integer
---@field outputs { path: string, made_dirs: string[], repairs: integer }

---A directory; delete removes the directories it made, when empty.
---@type fun(identifier: string): fun(fields: ochre.DirFields): ochre.Dir
ochre.Dir = nil

---@class ochre.TemplateFields
---@field path string breaking
---@field template string text with {{name}} placeholders
---@field vars? table
---@field inputs? table {{inputs.x.outputs.y}}
---@field mode? string|false

---@class ochre.Template: ochre.Instance
---@field path string
---@field template string
---@field vars table
---@field inputs table
---@field mode string|false
---@field repairs integer
---@field outputs ochre.FileOutputs

---A file rendered from a template and values; drift is repaired.
---@type fun(identifier: string): fun(fields: ochre.TemplateFields): ochre.Template
ochre.Template = nil

---@class ochre.CommandFields
---@field command string run on create, and on update unless update_command
---@field update_command? string|false
---@field delete_command? string|false
---@field env? table<string, string|number|false>
---@field cwd? string|false
---@field timeout? number|false
---@field inputs? table {{inputs.x.outputs.y}}, shell-quoted
---@field produces? string[] files the command makes: must exist after it; their SHA-256 in outputs.files; makes the Command cutoff
---@field keep? boolean true: deleting the Command leaves the produced files
---@field executor? "local"|"slurm" where its commands run
---@field slurm? ochre.SlurmOptions sbatch options for its commands

---@class ochre.Command: ochre.Instance
---@field command string
---@field update_command string|false
---@field delete_command string|false
---@field env table
---@field cwd string|false
---@field timeout number|false
---@field inputs table
---@field produces string[]|nil
---@field keep boolean|nil
---@field outputs { code: integer, stdout: string, stderr: string, text: string, files: table<string, string>|nil }

---Shell commands run on create, update and delete.
---@type fun(identifier: string): fun(fields: ochre.CommandFields): ochre.Command
ochre.Command = nil

---@class ochre.SqliteTableFields
---@field db string breaking
---@field name string breaking
---@field columns string[] breaking: { "id INTEGER PRIMARY KEY", "title TEXT" }
---@field key? string|false the column rows are matched by (default: the first)
---@field rows? table[]|false false: rows are not managed
---@field inputs? table

---@class ochre.SqliteTable: ochre.Instance
---@field db string
---@field name string
---@field columns string[]
---@field key string|false
---@field rows table[]|false
---@field inputs table
---@field repairs integer
---@field outputs { db: string, name: string, sql: string, content?: string, rows?: integer, written: integer, deleted: integer, repairs: integer }

---A table with a schema in a SQLite database, and optionally its rows.
---@type fun(identifier: string): fun(fields: ochre.SqliteTableFields): ochre.SqliteTable
ochre.SqliteTable = nil

---@class ochre.FolderFields
---@field path string breaking
---@field min_new? integer how many new or changed files make it change (1)
---@field pattern? string|false a Lua pattern names must match
---@field hidden? boolean whether names starting with '.' count

---@class ochre.Folder: ochre.Instance
---@field path string
---@field min_new integer
---@field pattern string|false
---@field hidden boolean
---@field files table<string, string> name -> SHA-256 (set by read)
---@field outputs { path: string, files: table<string, string>, new: string[], gone: string[], count: integer }

---A watched folder: it changes once `min_new` files are new or changed.
---@type fun(identifier: string): fun(fields: ochre.FolderFields): ochre.Folder
ochre.Folder = nil

return ochre
