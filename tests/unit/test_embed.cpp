// The public C++ API as a host uses it: native types mixed with Lua ones, several
// engines in one process, an engine on the host's own lua_State, typed errors.
#include <catch2/catch.hpp>

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

#include <filesystem>

#include "ochre/ochre.hpp"

using namespace ochre;
namespace fs = std::filesystem;

namespace {

struct Dir {
  fs::path path;
  Dir() {
    std::string t = (fs::temp_directory_path() / "ochre-embed-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()));
    path = t;
  }
  ~Dir() { fs::remove_all(path); }
  std::string state() const { return (path / "state.db").string(); }
};

Value map_of(std::initializer_list<std::pair<std::string, Value>> items) {
  Value m = Value::map();
  for (const auto& [k, v] : items) m.entries.emplace_back(Value::of_string(k), v);
  m.sort_entries();
  return m;
}

struct Host {
  std::string out;
  int created = 0, updated = 0, removed = 0;
  Options options(const std::string& state) {
    Options o;
    o.state_path = state;
    o.output = [this](std::string_view t) { out.append(t); };
    o.job_output = [this](const std::string& key, std::string_view line) {
      out += "[" + key + "] ";
      out.append(line);
      out += "\n";
    };
    return o;
  }
  NativeType texture() {
    NativeType t;
    t.name = "Texture";
    t.fields = {{"size", Value::of_number(256)}, {"label", Value::of_string("")}};
    t.required = {"source"};
    t.breaks = {"size"};
    t.create = [this](const Instance& self) {
      ++created;
      double size = self.field("size")->number;
      return map_of({{"bytes", Value::of_number(size * size)}});
    };
    t.update = [this](const Instance&, const Instance&) {
      ++updated;
      return Value::nil();
    };
    t.remove = [this](const Instance& self) {
      ++removed;
      out += "removed " + self.key + " size " + std::to_string(static_cast<int>(self.field("size")->number)) + "\n";
    };
    return t;
  }
};

std::string pipeline(int size, const std::string& label = "") {
  return R"(local ochre = require "ochre"
local Material = ochre.component "Material" {
  fields = { tex = ochre.required },
  create = function(self) print("bytes " .. self.tex.outputs.bytes) end,
  update = function(self) print("material updated") end,
}
return Material "m" { tex = ochre.Texture "t" { source = "a.png", size = )" +
         std::to_string(size) + ", label = \"" + label + "\" } }\n";
}

}  // namespace

TEST_CASE("native types mix with Lua types: create, update, replace, destroy", "[embed]") {
  Dir dir;
  Host host;
  {
    Engine e(host.options(dir.state()));
    e.define_type(host.texture());
    e.load_string(pipeline(256), "assets.lua");
    e.plan();
    auto jobs = e.jobs();
    REQUIRE(jobs.size() == 2);
    CHECK(jobs[0].key == "Texture/t");
    CHECK(jobs[1].deps == std::vector<int>{0});
    RunResult r = e.apply();
    CHECK(r.done == 2);
    CHECK(r.exit_code() == 0);
    CHECK(host.created == 1);
    CHECK(host.out.find("[Material/m] bytes 65536\n") != std::string::npos);
  }
  {
    Engine e(host.options(dir.state()));
    e.define_type(host.texture());
    e.load_string(pipeline(256, "x"), "assets.lua");
    e.plan();
    REQUIRE(e.jobs().size() == 2);  // the texture changed: it and the material update
    CHECK(e.jobs()[0].action == "update");
    e.apply();
    CHECK(host.updated == 1);
  }
  {
    Engine e(host.options(dir.state()));
    e.define_type(host.texture());
    e.load_string(pipeline(512, "x"), "assets.lua");
    e.plan();
    auto jobs = e.jobs();
    REQUIRE(jobs.size() >= 3);
    CHECK(jobs[0].action == "delete");
    e.apply();
    CHECK(host.removed == 1);
    CHECK(host.out.find("removed Texture/t size 256") != std::string::npos);
    auto stored = e.stored();
    REQUIRE(stored.size() == 2);
    CHECK(stored[1].key == "Texture/t");
    CHECK(stored[1].outputs == map_of({{"bytes", Value::of_number(512.0 * 512)}}));
  }
  {
    Engine e(host.options(dir.state()));
    e.define_type(host.texture());
    e.load_string(pipeline(512, "x"), "assets.lua");
    e.plan_destroy();
    CHECK(e.apply().done == 2);
    CHECK(e.stored().empty());
  }
}

TEST_CASE("a native hook that throws fails its job with the message", "[embed]") {
  Dir dir;
  Host host;
  Engine e(host.options(dir.state()));
  NativeType t = host.texture();
  t.create = [](const Instance&) -> Value { throw std::runtime_error("disk full"); };
  e.define_type(t);
  e.load_string(pipeline(64), "assets.lua");
  e.plan();
  std::string error;
  Callbacks cb;
  cb.finished = [&](const JobInfo& job, const JobEnd& end) {
    if (end.outcome == "failed") error = job.key + ": " + end.error;
  };
  RunResult r = e.apply(cb);
  CHECK(r.failed == 1);
  CHECK(r.skipped == 1);
  CHECK(r.exit_code() == 1);
  CHECK(error.find("disk full") != std::string::npos);
}

TEST_CASE("two engines in one process are independent", "[embed]") {
  Dir a, b;
  Host ha, hb;
  Engine ea(ha.options(a.state())), eb(hb.options(b.state()));
  ea.define_type(ha.texture());
  eb.define_type(hb.texture());
  ea.load_string(pipeline(16), "a.lua");
  eb.load_string(pipeline(32), "b.lua");
  ea.plan();
  eb.plan();
  CHECK(ea.apply().done == 2);
  CHECK(eb.apply().done == 2);
  CHECK(ha.out.find("bytes 256\n") != std::string::npos);
  CHECK(hb.out.find("bytes 1024\n") != std::string::npos);
  CHECK(ea.stored().size() == 2);
  CHECK(eb.stored().size() == 2);
  CHECK(ea.stored()[1].outputs != eb.stored()[1].outputs);
}

TEST_CASE("an engine on the host's own lua_State", "[embed]") {
  Dir dir;
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  REQUIRE(luaL_dostring(L, "host_value = 41") == 0);
  {
    Host host;
    Engine e(L, host.options(dir.state()));
    e.load_string(R"(local ochre = require "ochre"
local C = ochre.component "C" { fields = { n = host_value + 1 },
  create = function(self) print("n is " .. self.n) end }
return C "c" {})", "host.lua");
    e.plan();
    CHECK(e.apply().done == 1);
    CHECK(host.out.find("[C/c] n is 42") != std::string::npos);
  }
  // The host's state lives on after the engine, and still works.
  REQUIRE(luaL_dostring(L, "host_value = host_value + 1") == 0);
  lua_getglobal(L, "host_value");
  CHECK(lua_tonumber(L, -1) == 42);
  lua_close(L);
}

TEST_CASE("errors are typed exceptions with the CLI's codes", "[embed]") {
  Dir dir;
  Host host;
  Engine e(host.options(dir.state()));
  try {
    e.load_string("local ochre = require 'ochre'\nreturn ochre.Component \"x\" { nope = 1 }\n", "bad.lua");
    FAIL("expected an error");
  } catch (const Error& err) {
    CHECK(err.kind() == ErrorKind::User);
    CHECK(exit_status(err.kind()) == 2);
    CHECK(std::string(err.what()).find("Component has no field 'nope'") != std::string::npos);
    CHECK(err.display().rfind("bad.lua:2:", 0) == 0);
  }
}

TEST_CASE("an engine on an in-memory state", "[embed]") {
  Host host;
  Engine e(host.options(":memory:"));
  e.define_type(host.texture());
  e.load_string(pipeline(8), "mem.lua");
  e.plan();
  CHECK(e.apply().done == 2);
  e.plan();
  CHECK(e.jobs().empty());
  CHECK(e.stored().size() == 2);
  CHECK_FALSE(fs::exists(":memory:"));
}

TEST_CASE("an engine whose Lua memory comes from malloc", "[embed]") {
  Dir dir;
  Host host;
  Options o = host.options(dir.state());
  o.lua_uses_malloc = true;
  {
    Engine e(o);
    e.define_type(host.texture());
    // Enough garbage for the collector to free memory through the allocator too.
    e.load_string("local junk = {} for i = 1, 20000 do junk[i % 100] = { i, tostring(i) } end\n" +
                      pipeline(4),
                  "malloc.lua");
    e.plan();
    CHECK(e.apply().done == 2);
    CHECK(host.out.find("[Material/m] bytes 16\n") != std::string::npos);
  }
  Engine e(o);
  e.define_type(host.texture());
  e.load_string(pipeline(4), "malloc.lua");
  e.plan();
  CHECK(e.jobs().empty());
}

namespace {

// Lua that makes `mb` megabytes of garbage and sets `peak` to how far (in MB) Lua's
// memory grew meanwhile.
std::string churn(int mb) {
  return "local function churn()\n"
         "  local base, top, junk = collectgarbage('count'), 0, {}\n"
         "  for i = 1, " + std::to_string(mb) + " * 16384 do\n"
         "    junk[i % 64] = { i }\n"
         "    if i % 1024 == 0 then top = math.max(top, collectgarbage('count') - base) end\n"
         "  end\n"
         "  return top / 1024\n"
         "end\n";
}

// A pipeline whose file churns while it loads, and whose hook churns too, then prints
// what each saw.
std::string churning_pipeline() {
  return "local ochre = require 'ochre'\n" + churn(96) +
         "local loading = churn()\n"
         "local C = ochre.component 'C' { create = function(self)\n"
         "  print(string.format('loading %d applying %d', loading, churn()))\n"
         "end }\n"
         "return C 'c' {}\n";
}

// The two figures the pipeline printed (MB).
std::pair<int, int> churned(const std::string& out) {
  int loading = -1, applying = -1;
  size_t at = out.find("loading ");
  if (at != std::string::npos) std::sscanf(out.c_str() + at, "loading %d applying %d", &loading, &applying);
  return {loading, applying};
}

}  // namespace

TEST_CASE("Lua's collector waits while the pipeline file runs, up to Options::load_headroom",
          "[embed]") {
  Dir dir;
  Host host;
  Options o = host.options(dir.state());
  auto run = [&](size_t headroom) {
    o.load_headroom = headroom;
    host.out.clear();
    Engine e(o);
    e.load_string(churning_pipeline(), "churn.lua");
    e.plan();
    CHECK(e.apply().done == 1);
    INFO(host.out);
    return churned(host.out);
  };
  {
    auto [loading, applying] = run(size_t{1} << 30);
    CHECK(loading >= 64);   // nothing collected: 96 MB made, about as much kept
    CHECK(applying >= 0);
    CHECK(applying <= 48);  // the collector runs again once the file returned
  }
  fs::remove(dir.state());
  {
    auto [loading, applying] = run(8u << 20);  // past 8 MB of growth it runs
    CHECK(loading >= 0);
    CHECK(loading <= 48);
    CHECK(applying <= 48);
  }
  fs::remove(dir.state());
  {
    auto [loading, applying] = run(0);  // it runs throughout
    CHECK(loading >= 0);
    CHECK(loading <= 48);
    CHECK(applying <= 48);
  }
}

TEST_CASE("on the host's own lua_State, the collector runs while the pipeline loads and the "
          "allocator stays the host's",
          "[embed]") {
  Dir dir;
  Host host;
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  void* ud_before = nullptr;
  lua_Alloc before = lua_getallocf(L, &ud_before);
  {
    Engine e(L, host.options(dir.state()));
    e.load_string(churning_pipeline(), "churn.lua");
    void* ud_loading = nullptr;
    CHECK(lua_getallocf(L, &ud_loading) == before);
    CHECK(ud_loading == ud_before);
    e.plan();
    CHECK(e.apply().done == 1);
    INFO(host.out);
    auto [loading, applying] = churned(host.out);
    CHECK(loading >= 0);
    CHECK(loading <= 48);
    CHECK(applying <= 48);
  }
  lua_close(L);
}

TEST_CASE("a hook's old reads the stored graph as stored, the same instance by two paths, and only "
          "while its run goes on",
          "[embed]") {
  Dir dir;
  Host host;
  Engine e(host.options(dir.state()));
  // The root's update prints what its old version refers to, keeps (where the next load
  // finds it) a stored instance it never read a field of, and reads the one kept by the
  // run before.
  auto apply = [&](int v) {
    e.load_string(R"(local ochre = require "ochre"
local function twice(self) return { twice = self.v * 2 } end
local Leaf = ochre.component "Leaf" { fields = { v = 0 }, create = twice, update = twice }
local Group = ochre.component "Group" { fields = { members = {} } }
local Root = ochre.component "Root" {
  fields = { groups = {}, shared = false, n = 0 },
  create = function(self) end,
  update = function(self, old)
    local kept = package.loaded.kept
    if kept then
      local ok, err = pcall(function() return kept.v end)
      print("kept: " .. tostring(ok) .. " " .. tostring(err))
    end
    local b = old.groups[1].members[2]
    print(string.format("old: n %d, %s, b.v %d, b.twice %d, same %s, %s", old.n, tostring(old.groups[2]),
      b.v, b.outputs.twice, tostring(old.groups[1].members[1] == old.shared), tostring(old.groups[2].members[1] == b)))
    package.loaded.kept = old.shared
  end,
}
local V = )" + std::to_string(v) + R"(
local a, b = Leaf "a" { v = V }, Leaf "b" { v = V + 1 }
return Root "root" { n = V, shared = a, groups = { Group "g1" { members = { a, b } }, Group "g2" { members = { b } } } }
)",
                  "old.lua");
    e.plan();
    host.out.clear();
    return e.apply();
  };
  CHECK(apply(1).done == 5);
  CHECK(apply(2).failed == 0);
  CHECK(host.out.find("old: n 1, Group/g2, b.v 2, b.twice 4, same true, true\n") != std::string::npos);
  CHECK(host.out.find("kept:") == std::string::npos);
  CHECK(apply(3).failed == 0);
  INFO(host.out);
  CHECK(host.out.find("old: n 2, Group/g2, b.v 3, b.twice 6, same true, true\n") != std::string::npos);
  // A stored version left unread by the run before cannot be read now: its run is over.
  CHECK(host.out.find("kept: false") != std::string::npos);
  CHECK(host.out.find("the stored version of Leaf/a is read while the run that gave it to a hook goes on") !=
        std::string::npos);
}

TEST_CASE("a state read ahead is used only if nothing was committed since", "[embed]") {
  Dir dir;
  Host host;
  auto write = [&](const std::string& name, int size) {
    std::string path = (dir.path / name).string();
    FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    std::string code = pipeline(size);
    std::fwrite(code.data(), 1, code.size(), f);
    std::fclose(f);
    return path;
  };
  std::string small = write("small.lua", 2), large = write("large.lua", 3);
  Options o = host.options(dir.state());
  o.read_state_ahead = true;
  {
    Engine first(o);
    first.define_type(host.texture());
    first.load_file(small);
    first.plan();
    REQUIRE(first.apply().done == 2);
  }
  // `reader` reads the state while its file runs; `writer` then replaces the texture.
  Engine reader(o);
  reader.define_type(host.texture());
  reader.load_file(small);
  {
    Engine writer(host.options(dir.state()));
    writer.define_type(host.texture());
    writer.load_file(large);
    writer.plan();
    REQUIRE(writer.apply().done >= 2);
  }
  // The state it read before is stale: planning small.lua again replaces the texture back.
  reader.plan();
  auto jobs = reader.jobs();
  REQUIRE(!jobs.empty());
  CHECK(jobs[0].key == "Texture/t");
  CHECK(jobs[0].action == "delete");
  // With nothing committed in between, what was read ahead is what a plan sees.
  reader.apply();
  Engine again(o);
  again.define_type(host.texture());
  again.load_file(small);
  again.plan();
  CHECK(again.jobs().empty());
}
