-- ochre.Command: create/update/delete commands with env and cwd; outputs passed on with
-- {{...}} placeholders (shell-quoted); a failing command fails the job, its dependents
-- are skipped, and the next run retries it.
local ochre = require "ochre"
local t = require "steps"

local function pipeline(greeting, fail)
  return function()
    local first = ochre.Command "first" {
      command = "mkdir -p work && echo \"$GREETING from $(basename \"$PWD\")\" | tee work/log",
      update_command = "echo \"updated: $GREETING\" | tee -a work/log",
      delete_command = "rm -r work",
      env = { GREETING = greeting },
      inputs = { version = 1 },
    }
    return ochre.Command "second" {
      command = "printf '%s\\n' {{inputs.first.outputs.text}} {{inputs.weird}} > used.txt"
        .. (fail and " && exit 3" or ""),
      delete_command = "rm used.txt",
      inputs = { first = first, weird = "it's $HOME `x`" },
    }
  end
end

return t.run {
  { name = "create runs the commands in order, outputs passed on",
    before = function() assert(ochre.fs.mkdir("here")) end,
    roots = function()
      local roots = pipeline("hello")()
      return roots
    end,
    plan = { "CREATE Command/first", "CREATE Command/second" },
    out = { "[Command/first] hello from" },
    check = function()
      t.has(t.read("work/log"), "hello from", "log")
      t.eq(t.read("used.txt"), "hello from " .. ochre.sh("basename \"$PWD\"").stdout:gsub("%s+$", "")
        .. "\nit's $HOME `x`\n", "quoted values")
    end },
  { name = "nothing to do", plan = {} },
  { name = "a changed env runs update_command, and the dependent again",
    roots = pipeline("bonjour"), plan = { "UPDATE Command/first", "UPDATE Command/second" },
    check = function()
      t.has(t.read("work/log"), "updated: bonjour", "log")
      t.eq(t.read("used.txt"):match("^[^\n]*"), "updated: bonjour", "the new output is used")
    end },
  { name = "a failing command fails its job", roots = pipeline("bonjour", true),
    plan = { "UPDATE Command/second" }, code = 1, out = { "Command/second: command exited with 3" } },
  { name = "the next run retries it", roots = pipeline("bonjour"), plan = { "UPDATE Command/second" } },
  { name = "a bad placeholder fails with its name",
    roots = function()
      return ochre.Command "third" { command = "echo {{inputs.nothing}}" }
    end,
    plan = { "CREATE Command/third", "DELETE Command/second", "DELETE Command/first" }, code = 1,
    out = { "Command/third: command: unknown name 'inputs.nothing' on line 1" },
    check = function()
      t.ok(not ochre.fs.exists("work") and not ochre.fs.exists("used.txt"), "delete commands ran")
    end },
  { name = "timeouts and cwd",
    roots = function()
      return ochre.Command "third" { command = "pwd > ../where.txt", cwd = "here", timeout = 5,
                                     delete_command = "rm ../where.txt" }
    end,
    plan = { "CREATE Command/third" },
    check = function() t.has(t.read("where.txt"), "/here", "cwd") end },
  destroy_plan = { "DELETE Command/third" },
  destroyed = function() t.ok(not ochre.fs.exists("where.txt"), "where.txt is gone") end,
}
