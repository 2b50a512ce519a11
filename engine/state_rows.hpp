// What the state stores share about rows: timestamps, who runs, and an instance's
// encoded columns.
#pragma once
#include <string>
#include <vector>

#include "engine/state.hpp"

namespace ochre {

// UTC, to the millisecond: "2026-01-01T00:00:00.000Z".
std::string state_now();
std::string host_name();
std::string user_name();
// A list of strings in the canonical encoding, and back (throws on damaged bytes).
std::string encode_keys(const std::vector<std::string>& keys);
std::vector<std::string> decode_keys(std::string_view bytes);
// The canonical encoding of fields: as they came from the state if not decoded since.
std::string fields_blob(const PackedFields& fields);

// An instance's encoded columns as read (breaks and sensitive empty when NULL).
struct RowText {
  std::string fields, outputs, deps, status, action, breaks, sensitive;
};
// Decodes a stored version's fields and outputs into `v` (whose key is set); damaged
// bytes are Code::State naming `where`.
void decode_version(const std::string& where, std::string_view fields, std::string_view outputs,
                    VersionRecord& v);
// Decodes `row` into `s` (whose key is set); a damaged row is Code::State naming
// `where` and the way out.
void decode_instance_row(const std::string& where, const RowText& row, StoredInstance& s);

}  // namespace ochre
