// An example host: the asset pipeline of a toy game. It registers two native component
// types whose hooks are C++ (Texture, Shader), loads a Lua pipeline that uses them with
// Lua types, prints the plan, applies it with a progress callback, then edits one
// texture and applies again: only that texture and what depends on it run.
//
// Usage: embed_example DIR   (DIR gets sample sources, a build/ folder and the state)
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ochre/ochre.hpp"

namespace fs = std::filesystem;
using ochre::Instance;
using ochre::Value;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

Value outputs(std::initializer_list<std::pair<const char*, Value>> items) {
  Value m = Value::map();
  for (const auto& [k, v] : items) m.entries.emplace_back(Value::of_string(k), v);
  m.sort_entries();
  return m;
}

// Texture: "converts" a source image (text here) into build/<id>.tex at a size.
ochre::NativeType texture_type(const fs::path& dir) {
  ochre::NativeType t;
  t.name = "Texture";
  t.fields = {{"size", Value::of_number(256)}, {"checksum", Value::of_string("")}};
  t.required = {"source"};
  t.breaks = {"size"};
  // read: the source's contents are part of the hash, so an edited source plans an update.
  t.read = [dir](Instance& self) {
    std::string data = read_file(dir / self.field("source")->text);
    for (auto& [name, v] : self.fields)
      if (name == "checksum") v = Value::of_string(std::to_string(std::hash<std::string>{}(data)));
  };
  auto build = [dir](const Instance& self) {
    double size = self.field("size")->number;
    std::string data = read_file(dir / self.field("source")->text);
    write_file(dir / "build" / (self.identifier + ".tex"), std::to_string(static_cast<int>(size)) + "\n" + data);
    return outputs({{"texels", Value::of_number(size * size)}});
  };
  t.create = build;
  t.update = [build](const Instance& self, const Instance&) { return build(self); };
  t.remove = [dir](const Instance& self) { fs::remove(dir / "build" / (self.identifier + ".tex")); };
  return t;
}

// Shader: "compiles" a source by checking it declares main().
ochre::NativeType shader_type(const fs::path& dir) {
  ochre::NativeType t;
  t.name = "Shader";
  t.required = {"source"};
  t.breaks = {"source"};
  t.create = [dir](const Instance& self) {
    std::string src = read_file(dir / self.field("source")->text);
    if (src.find("main()") == std::string::npos)
      throw std::runtime_error(self.field("source")->text + ": no main() in shader");
    write_file(dir / "build" / (self.identifier + ".spv"), src);
    return outputs({{"program", Value::of_string(self.identifier + ".spv")}});
  };
  t.remove = [dir](const Instance& self) { fs::remove(dir / "build" / (self.identifier + ".spv")); };
  return t;
}

int apply_once(const fs::path& dir, const std::string& title) {
  ochre::Options options;
  options.state_path = (dir / "state.db").string();
  options.job_output = [](const std::string& key, std::string_view line) {
    std::cout << "  " << key << ": " << line << "\n";
  };
  ochre::Engine engine(options);
  engine.define_type(texture_type(dir));
  engine.define_type(shader_type(dir));
  engine.load_file((dir / "assets.lua").string());
  engine.plan();
  std::cout << "== " << title << "\n" << engine.plan_table();
  int total = static_cast<int>(engine.jobs().size()), finished = 0;
  ochre::Callbacks progress;
  progress.finished = [&](const ochre::JobInfo& job, const ochre::JobEnd& end) {
    ++finished;
    std::cout << "  [" << finished << "/" << total << "] " << job.details << " " << end.outcome
              << (end.error.empty() ? "" : ": " + end.error) << "\n";
  };
  ochre::RunResult r = engine.apply(progress);
  std::cout << (r.nothing_to_do ? "nothing to do" : r.summary) << "\n";
  return r.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: embed_example DIR\n";
    return 2;
  }
  fs::path dir = fs::absolute(argv[1]);
  fs::path here = EXAMPLE_DIR;  // this file's folder, from CMakeLists.txt
  try {
    fs::create_directories(dir);
    fs::copy_file(here / "assets.lua", dir / "assets.lua", fs::copy_options::overwrite_existing);
    write_file(dir / "textures/stone.txt", "grey grey grey\n");
    write_file(dir / "textures/grass.txt", "green green\n");
    write_file(dir / "shaders/lit.glsl", "void main() { light(); }\n");
    int rc = apply_once(dir, "first apply");
    rc |= apply_once(dir, "again: nothing changed");
    write_file(dir / "textures/grass.txt", "greener grass\n");
    rc |= apply_once(dir, "after editing textures/grass.txt");
    return rc;
  } catch (const ochre::Error& e) {
    std::cerr << "error: " << e.display() << "\n";
    return ochre::exit_status(e.kind());
  }
}
