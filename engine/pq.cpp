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
      error = message(Msg::PqCannotLoad, {why ? std::string(why) : message(Msg::PqNotFound)});
      return;
    }
#define OCHRE_PQ_FIND(fn)                                                          \
  if (error.empty()) {                                                             \
    fn = reinterpret_cast<decltype(fn)>(dlsym(lib, #fn));                          \
    if (!fn) error = message(Msg::PqMissingFunction, {#fn});                    \
  }
    OCHRE_PQ_FUNCTIONS(OCHRE_PQ_FIND)
#undef OCHRE_PQ_FIND
  });
  if (!error.empty()) fail(Code::State, {shown, error});  // a text of the catalog (above)
}

}  // namespace ochre::pq
