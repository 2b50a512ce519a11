// The page `ochre serve` sends (serve/web/), embedded into the binary at build time by
// scripts/embed_web.cmake, so it works offline from any directory.
#pragma once
#include <cstddef>

namespace ochre::cli {

struct WebAsset {
  const char* name;  // file name in serve/web/, e.g. "app.js"
  const char* data;
  std::size_t size;
};

// Ends with an entry whose name is nullptr.
extern const WebAsset web_assets[];

}  // namespace ochre::cli
