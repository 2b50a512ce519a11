// Loading libpq at run time (see pq.hpp).
#include "engine/pq.hpp"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "ochre/errors.hpp"

namespace ochre::pq {

#define OCHRE_PQ_DEFINE(name) decltype(&::name) name = nullptr;
OCHRE_PQ_FUNCTIONS(OCHRE_PQ_DEFINE)
#undef OCHRE_PQ_DEFINE

void load(const char* shown) {
  static std::once_flag once;
  static std::string error;  // empty once every function is found
  std::call_once(once, [] {
    void* lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);  // kept for the process's life
    if (!lib) {
      const char* why = dlerror();
      error = "cannot load libpq.so.5 (" + std::string(why ? why : "not found") +
              "); a PostgreSQL state needs libpq: apt-get install libpq5";
      return;
    }
#define OCHRE_PQ_FIND(fn)                                                          \
  if (error.empty()) {                                                             \
    fn = reinterpret_cast<decltype(fn)>(dlsym(lib, #fn));                          \
    if (!fn) error = "libpq.so.5 has no " #fn " (libpq 14 or later is needed)"; \
  }
    OCHRE_PQ_FUNCTIONS(OCHRE_PQ_FIND)
#undef OCHRE_PQ_FIND
  });
  if (!error.empty()) fail(Code::State, {shown, error});
}

}  // namespace ochre::pq
