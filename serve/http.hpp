// The program's side of ochre-http.so (serve/http_module.h): finds and loads the module the
// first time HTTP is needed, beside the program or where it is installed.
#pragma once
#include <string>

#include "serve/http_module.h"

namespace ochre::cli {

// The module's table, or nullptr with why in `error` (which file it tried, what failed).
// Loaded once per process; any thread.
const ochre_http_api* http_module(std::string* error);

}  // namespace ochre::cli
