// An index from instance keys ("Type/identifier") to positions in a vector of things
// that have keys (graph nodes, stored instances). Planning looks keys up hundreds of
// thousands of times: this is open addressing over (hash, position) pairs, one
// allocation for the whole index and none per key. The keys stay in the vector, so the
// index survives the vector growing; `key_of(pos)` reads them back.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace ochre {

class KeyIndex {
 public:
  // Makes room for `n` keys without growing.
  void reserve(size_t n) {
    if (n * 2 > slots_.size()) rehash(n * 2);
  }

  // Adds `pos` under `key`. Returns the position already there for that key (and adds
  // nothing), or -1.
  template <class KeyOf>
  int insert(std::string_view key, int pos, const KeyOf& key_of) {
    if ((used_ + 1) * 2 > slots_.size()) rehash(std::max<size_t>(16, slots_.size() * 2));
    uint32_t h = hash(key);
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.pos < 0) {
        s = {h, pos};
        ++used_;
        return -1;
      }
      if (s.hash == h && std::string_view(key_of(s.pos)) == key) return s.pos;
    }
  }

  // The position of `key`, or -1.
  template <class KeyOf>
  int find(std::string_view key, const KeyOf& key_of) const {
    if (slots_.empty()) return -1;
    uint32_t h = hash(key);
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.pos < 0) return -1;
      if (s.hash == h && std::string_view(key_of(s.pos)) == key) return s.pos;
    }
  }

  // find(), trying first the position after the last one this `cursor` found: keys
  // looked up in the order their things are kept in (`count` of them) are found in
  // sequence, without hashing or a jump through memory.
  template <class KeyOf>
  int find_next(std::string_view key, size_t& cursor, size_t count, const KeyOf& key_of) const {
    if (cursor < count && std::string_view(key_of(static_cast<int>(cursor))) == key)
      return static_cast<int>(cursor++);
    int i = find(key, key_of);
    if (i >= 0) cursor = static_cast<size_t>(i) + 1;
    return i;
  }

  void clear() {
    slots_.clear();
    used_ = 0;
  }
  size_t size() const { return used_; }

 private:
  struct Slot {
    uint32_t hash = 0;
    int pos = -1;  // -1: empty
  };

  static uint32_t hash(std::string_view key) {
    return static_cast<uint32_t>(std::hash<std::string_view>{}(key));
  }

  // A power of two at least `n` slots; the stored hashes place every entry again.
  void rehash(size_t n) {
    size_t size = 16;
    while (size < n) size *= 2;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(size, Slot{});
    size_t mask = size - 1;
    for (const Slot& s : old) {
      if (s.pos < 0) continue;
      size_t i = s.hash & mask;
      while (slots_[i].pos >= 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  size_t used_ = 0;
};

}  // namespace ochre
