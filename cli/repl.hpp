// The interactive REPL (see repl.cpp).
#pragma once
#include <string>

#include "ochre/ochre.hpp"

namespace ochre::cli {

// Runs the REPL on stdin; `file` may be empty. Returns the exit status.
int run_repl(const std::string& file, const Options& options);

}  // namespace ochre::cli
