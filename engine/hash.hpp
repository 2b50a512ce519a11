// Seed-compatible hashing: the ids the original Python ochre computes (DESIGN.md,
// "Hashing"). SHA-256 from libcrypto; every value digested from its canonical form,
// never from iteration order.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/short_text.hpp"
#include "ochre/value.hpp"

namespace ochre {

// A SHA-256 as 64 lower-case hex characters, without an allocation.
struct Hex {
  char c[64];
  std::string_view view() const { return {c, 64}; }
};
Hex sha256(std::string_view bytes);
// SHA-256 of a file's contents, read in blocks; false (with `error`) when it cannot be read.
bool sha256_file(const std::string& path, Hex& out, std::string& error);
// Lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);
// Lower-case hex HMAC-SHA256 of `bytes` under `key` (RFC 2104): how webhook deliveries
// are signed.
std::string hmac_sha256_hex(std::string_view key, std::string_view bytes);

// Python's repr() of a float: the shortest text that reads back the same double,
// in Python's layout ("0.75", "1e-05", "1e+16", "1.5e+300", "9007199254740994.0").
std::string python_float_repr(double x);

// Which Merkle tree a digest is for: a sub-component contributes its hash to the
// full tree and its uuid to the breaking tree.
enum class Tree { Full, Breaking };

// Gives the hash (Full) or uuid (Breaking) of the instance with this key.
using IdLookup = std::function<std::string_view(const std::string& key, Tree tree)>;

// An instance's ids, inline (see short_text.hpp).
using Uuid = ShortText<16>;    // 16 hex
using Digest = ShortText<64>;  // 64 hex

// digest(v) of the scheme; Refs are replaced by the looked-up id string.
std::string digest(const Value& v, Tree tree, const IdLookup& lookup);

struct Ids {
  Uuid uuid;
  Digest hash;  // 32 hex of the breaking tree, 32 of the rest
};

// The uuid and hash of one instance. `fields` is sorted by name and includes
// "identifier"; `breaks` is in declaration order. With a `key` (the state's, random,
// never shown), the value of each field named in `sensitive` enters both trees as an
// HMAC under the key rather than a plain digest, so ids reveal nothing a guess could
// confirm; an instance without sensitive fields gets the ids of the scheme either way.
Ids compute_ids(std::string_view type, std::string_view identifier,
                const std::vector<std::string>& breaks, const Fields& fields,
                const IdLookup& lookup, const std::vector<std::string>& sensitive = {},
                std::string_view key = {});

// A new random key for compute_ids: 64 hex characters.
std::string new_hash_key();

}  // namespace ochre
