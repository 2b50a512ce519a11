// The C API (ochre/ochre.h) over ochre::Engine: exceptions become status codes and a
// message kept with the handle.
#include "ochre/ochre.h"

#include <memory>
#include <new>
#include <string>

#include "ochre/ochre.hpp"

struct ochre_engine {
  ochre::Options options;
  std::unique_ptr<ochre::Engine> engine;
  std::string error, text, summary;
  ochre_output_fn output = nullptr;
  void* user = nullptr;

  ochre::Engine& get() {
    if (!engine) {
      if (output) {
        options.job_output = [this](const std::string& key, std::string_view line) {
          std::string l(line);
          output(user, key.c_str(), l.c_str());
        };
      }
      engine = std::make_unique<ochre::Engine>(options);
    }
    return *engine;
  }
};

namespace {

template <class F>
int guarded(ochre_engine* e, F&& f) {
  if (!e) return 2;
  e->error.clear();
  try {
    return f();
  } catch (const ochre::Error& err) {
    e->error = err.display();
    return ochre::exit_status(err.kind());
  } catch (const std::exception& err) {
    e->error = err.what();
    return 4;
  }
}

}  // namespace

extern "C" {

ochre_engine* ochre_new(const char* state_path) {
  auto* e = new (std::nothrow) ochre_engine;
  if (e && state_path) e->options.state_path = state_path;
  return e;
}

void ochre_free(ochre_engine* engine) { delete engine; }

void ochre_set_output(ochre_engine* e, ochre_output_fn fn, void* user) {
  if (!e) return;
  e->output = fn;
  e->user = user;
}

void ochre_set_jobs(ochre_engine* e, int jobs) {
  if (e) e->options.jobs = jobs;
}

int ochre_load_file(ochre_engine* e, const char* path) {
  return guarded(e, [&] {
    e->get().load_file(path ? path : "");
    return 0;
  });
}

int ochre_load_string(ochre_engine* e, const char* code, const char* name) {
  return guarded(e, [&] {
    e->get().load_string(code ? code : "", name ? name : "pipeline");
    return 0;
  });
}

int ochre_plan(ochre_engine* e) {
  return guarded(e, [&] {
    e->get().plan();
    return 0;
  });
}

int ochre_plan_destroy(ochre_engine* e) {
  return guarded(e, [&] {
    e->get().plan_destroy();
    return 0;
  });
}

int ochre_job_count(ochre_engine* e) {
  int n = -1;
  guarded(e, [&] {
    n = static_cast<int>(e->get().jobs().size());
    return 0;
  });
  return n;
}

const char* ochre_job_details(ochre_engine* e, int index) {
  if (!e) return "";
  int rc = guarded(e, [&] {
    auto jobs = e->get().jobs();
    e->text = index >= 0 && index < static_cast<int>(jobs.size()) ? jobs[index].details : "";
    return 0;
  });
  return rc ? "" : e->text.c_str();
}

const char* ochre_plan_table(ochre_engine* e) {
  if (!e) return "";
  int rc = guarded(e, [&] {
    e->text = e->get().plan_table();
    return 0;
  });
  return rc ? "" : e->text.c_str();
}

const char* ochre_plan_json(ochre_engine* e) {
  if (!e) return "";
  int rc = guarded(e, [&] {
    e->text = e->get().plan_json();
    return 0;
  });
  return rc ? "" : e->text.c_str();
}

int ochre_apply(ochre_engine* e) {
  return guarded(e, [&] {
    ochre::RunResult r = e->get().apply();
    e->summary = r.nothing_to_do ? "nothing to do" : r.summary;
    return r.exit_code();
  });
}

const char* ochre_summary(ochre_engine* e) { return e ? e->summary.c_str() : ""; }

const char* ochre_last_error(ochre_engine* e) { return e ? e->error.c_str() : ""; }

}  // extern "C"
