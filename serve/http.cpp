// Loads ochre-http.so, and gives the engine's webhook client (webhook/webhook_http.hpp) its
// program-side implementation: each call goes to the module's poster.
#include "serve/http.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "ochre/errors.hpp"
#include "webhook/webhook_http.hpp"

namespace ochre::cli {
namespace {

struct Loaded {
  const ochre_http_api* api = nullptr;
  std::string error;
};

// Beside the program (the build tree), then where `make install` puts it relative to the
// program, then where it was configured to be installed.
std::vector<std::string> candidates() {
  std::vector<std::string> out;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((self.parent_path() / "ochre-http.so").string());
    out.push_back((self.parent_path() / OCHRE_HTTP_MODULE_FROM_BIN).lexically_normal().string());
  }
  out.push_back(OCHRE_HTTP_MODULE_INSTALLED);
  return out;
}

Loaded load() {
  Loaded l;
  std::string tried;
  for (const std::string& path : candidates()) {
    if (access(path.c_str(), F_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      l.error = message(Msg::HttpCannotLoad, {path, dlerror()});
      return l;
    }
    auto entry = reinterpret_cast<const ochre_http_api* (*)()>(dlsym(h, "ochre_http_module"));
    const ochre_http_api* api = entry ? entry() : nullptr;
    if (!api || api->abi != OCHRE_HTTP_ABI) {
      l.error = message(Msg::HttpNotModule, {path});
      return l;
    }
    l.api = api;
    return l;
  }
  l.error = message(Msg::HttpMissing, {tried});
  return l;
}

}  // namespace

const ochre_http_api* http_module(std::string* error) {
  static const Loaded loaded = load();
  if (!loaded.api && error) *error = loaded.error;
  return loaded.api;
}

}  // namespace ochre::cli

namespace ochre {

struct HttpPoster::Impl {
  const ochre_http_api* api = nullptr;
  void* poster = nullptr;
  std::string error;  // why there is no poster
};

HttpPoster::HttpPoster() : impl_(std::make_unique<Impl>()) {
  impl_->api = cli::http_module(&impl_->error);
  if (impl_->api && !(impl_->poster = impl_->api->poster_new())) impl_->error = message(Msg::OutOfMemory);
}

HttpPoster::~HttpPoster() {
  if (impl_->poster) impl_->api->poster_free(impl_->poster);
}

HttpAnswer HttpPoster::post(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body, double connect_timeout, double timeout) {
  HttpAnswer answer;
  if (!impl_->poster) {
    answer.error = impl_->error;
    return answer;
  }
  std::vector<const char*> h;
  for (const auto& [name, value] : headers) {
    h.push_back(name.c_str());
    h.push_back(value.c_str());
  }
  char error[512];
  answer.status = impl_->api->poster_post(impl_->poster, url.c_str(), h.data(), headers.size(), body.data(),
                                          body.size(), connect_timeout, timeout, error, sizeof error);
  answer.error = error;
  return answer;
}

void HttpPoster::cancel() {
  if (impl_->poster) impl_->api->poster_cancel(impl_->poster);
}

}  // namespace ochre
