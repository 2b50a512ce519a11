// Text of a usual length kept inline: an instance's uuid (16 hex) and hash (64 hex),
// held by every stored instance and every graph node, a million of each in a large
// pipeline. A std::string would put each on the heap (16 characters is just over its
// inline capacity). Longer text (a state written by hand, a test's made-up ids) goes to
// the heap, so any text a state holds reads back and writes back the same.
#pragma once
#include <compare>
#include <cstring>
#include <string>
#include <string_view>

namespace ochre {

template <size_t N>
class ShortText {
  static_assert(N >= sizeof(std::string*) && N < 255);

 public:
  ShortText() = default;
  ShortText(std::string_view s) { assign(s); }
  ShortText(const std::string& s) : ShortText(std::string_view(s)) {}
  ShortText(const char* s) : ShortText(std::string_view(s)) {}
  ShortText(const ShortText& o) { assign(o.view()); }
  ShortText(ShortText&& o) noexcept {
    std::memcpy(c_, o.c_, N);
    n_ = o.n_;
    o.n_ = 0;
  }
  ShortText& operator=(const ShortText& o) {
    if (this != &o) assign(o.view());
    return *this;
  }
  ShortText& operator=(ShortText&& o) noexcept {
    if (this != &o) {
      release();
      std::memcpy(c_, o.c_, N);
      n_ = o.n_;
      o.n_ = 0;
    }
    return *this;
  }
  ShortText& operator=(std::string_view s) {
    assign(s);
    return *this;
  }
  ShortText& operator=(const std::string& s) { return *this = std::string_view(s); }
  ShortText& operator=(const char* s) { return *this = std::string_view(s); }
  ~ShortText() { release(); }

  std::string_view view() const { return n_ == kHeap ? std::string_view(*heap()) : std::string_view(c_, n_); }
  operator std::string_view() const { return view(); }
  std::string str() const { return std::string(view()); }
  const char* data() const { return view().data(); }
  size_t size() const { return view().size(); }
  bool empty() const { return n_ == 0; }

  friend bool operator==(const ShortText& a, const ShortText& b) { return a.view() == b.view(); }
  friend bool operator==(const ShortText& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const ShortText& a, const std::string& b) { return a.view() == b; }
  friend bool operator==(const ShortText& a, const char* b) { return a.view() == b; }
  friend std::strong_ordering operator<=>(const ShortText& a, const ShortText& b) { return a.view() <=> b.view(); }
  friend std::string operator+(const std::string& a, const ShortText& b) { return a + std::string(b.view()); }
  friend std::string operator+(std::string&& a, const ShortText& b) { return std::move(a.append(b.view())); }
  friend std::string operator+(const char* a, const ShortText& b) { return std::string(a).append(b.view()); }
  friend std::string operator+(const ShortText& a, const std::string& b) { return a.str() + b; }
  friend std::string operator+(const ShortText& a, const char* b) { return a.str() + b; }

 private:
  static constexpr unsigned char kHeap = 255;  // c_ holds a std::string* to the text

  std::string* heap() const {
    std::string* p;
    std::memcpy(&p, c_, sizeof p);
    return p;
  }
  void release() {
    if (n_ == kHeap) delete heap();
    n_ = 0;
  }
  void assign(std::string_view s) {
    if (n_ == kHeap && s.size() > N) {
      heap()->assign(s);  // (s may be a view of it)
      return;
    }
    if (s.size() <= N) {
      std::string* old = n_ == kHeap ? heap() : nullptr;
      if (!s.empty()) std::memmove(c_, s.data(), s.size());
      n_ = static_cast<unsigned char>(s.size());
      delete old;
      return;
    }
    std::string* p = new std::string(s);
    std::memcpy(c_, &p, sizeof p);
    n_ = kHeap;
  }

  char c_[N];
  unsigned char n_ = 0;  // the length, or kHeap
};

}  // namespace ochre
