// The catalog of messages. Keep texts short, say what is wrong and what to do.
#include "ochre/errors.hpp"

namespace ochre {
namespace {

struct Entry {
  Code code;
  const char* name;
  ErrorKind kind;
  const char* text;
};

constexpr Entry catalog[] = {
    {Code::Usage, "usage", ErrorKind::User, "{} (see 'ochre --help')"},
    {Code::NoFile, "no-file", ErrorKind::User, "cannot read pipeline '{}': {}"},
    {Code::LuaSyntax, "syntax", ErrorKind::User, "syntax error: {}"},
    {Code::LuaRuntime, "load", ErrorKind::User, "{}"},
    {Code::BadReturn, "bad-return", ErrorKind::User,
     "the pipeline must return a component instance or a list of them, or pass them to "
     "ochre.apply (it returned {})"},
    {Code::UnknownField, "unknown-field", ErrorKind::User, "{} has no field '{}'{}"},
    {Code::MissingField, "missing-field", ErrorKind::User, "{} needs a value for required field '{}'"},
    {Code::BadValue, "bad-value", ErrorKind::User, "{}: {}"},
    {Code::BadIdentifier, "bad-identifier", ErrorKind::User,
     "an identifier must be a non-empty string (got {})"},
    {Code::BadType, "bad-type", ErrorKind::User, "{}"},
    {Code::Duplicate, "duplicate", ErrorKind::User,
     "{} is defined twice with different fields: at {} and at {}"},
    {Code::Cycle, "cycle", ErrorKind::User, "dependency cycle: {}"},
    {Code::TypeGone, "type-gone", ErrorKind::User,
     "the state holds {} but the pipeline no longer defines type '{}': define it again so "
     "ochre can delete it, or forget it with 'ochre state rm {}'"},
    {Code::UnknownKey, "unknown-key", ErrorKind::User, "no instance '{}' in {}"},
    {Code::State, "state", ErrorKind::User, "state '{}': {}"},
    {Code::StateVersion, "state-version", ErrorKind::User,
     "state '{}' has schema version {}, newer than this ochre knows ({}): upgrade ochre"},
    {Code::Locked, "locked", ErrorKind::Locked, "state '{}' is locked by {}"},
    {Code::NotNow, "not-now", ErrorKind::User, "{}"},
    {Code::HookFailed, "hook", ErrorKind::Hook, "{}"},
    {Code::Listen, "listen", ErrorKind::User, "cannot serve on {}: {}"},
    {Code::Internal, "internal", ErrorKind::Internal, "internal error (a bug in ochre): {}"},
};

const Entry& entry(Code code) {
  for (const Entry& e : catalog)
    if (e.code == code) return e;
  return catalog[sizeof catalog / sizeof catalog[0] - 1];
}

}  // namespace

std::string message(Code code, std::initializer_list<std::string_view> args) {
  std::string out;
  const char* t = entry(code).text;
  auto arg = args.begin();
  for (; *t; ++t) {
    if (t[0] == '{' && t[1] == '}') {
      if (arg != args.end()) out += *arg++;
      ++t;
    } else {
      out += *t;
    }
  }
  return out;
}

const char* code_name(Code code) { return entry(code).name; }
ErrorKind code_kind(Code code) { return entry(code).kind; }

int exit_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::User: return 2;
    case ErrorKind::Hook: return 1;
    case ErrorKind::Locked: return 3;
    case ErrorKind::Internal: return 4;
  }
  return 4;
}

std::string Error::display() const {
  if (where_.empty()) return what();
  return where_ + ": " + what();
}

void fail(Code code, std::initializer_list<std::string_view> args, std::string where) {
  throw Error(code, message(code, args), std::move(where));
}

}  // namespace ochre
