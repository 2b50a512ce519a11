// ShortText: ids inline, any other text kept as it came.
#include <catch2/catch.hpp>

#include <string>
#include <utility>

#include "engine/hash.hpp"

using ochre::Digest;
using ochre::Uuid;

TEST_CASE("an id of the usual length reads back as it was written", "[short-text]") {
  Uuid u = std::string("0123456789abcdef");
  CHECK(u.view() == "0123456789abcdef");
  CHECK(u.size() == 16);
  Digest h(std::string(64, 'a'));
  CHECK(h == std::string(64, 'a'));
  CHECK(h != std::string(63, 'a'));
  Uuid e;
  CHECK(e.empty());
  CHECK(e.view().empty());
  CHECK("x/" + u + "." == std::string("x/0123456789abcdef."));
}

TEST_CASE("text longer than an id (a state written by hand) keeps all of it", "[short-text]") {
  const std::string long_text = "kept-uuid:Type/some-rather-long-identifier";
  Uuid u = long_text;
  CHECK(u.str() == long_text);
  Uuid copy = u;
  CHECK(copy == u);
  Uuid moved = std::move(copy);
  CHECK(moved.view() == long_text);
  CHECK(copy.empty());
  moved = moved.view().substr(0, 4);  // shorter, from its own text
  CHECK(moved.view() == "kept");
  u = u.view().substr(5);  // still long, from its own text
  CHECK(u.view() == long_text.substr(5));
  u = Uuid("short");
  CHECK(u.view() == "short");
  CHECK(u < Uuid("sp"));
}
