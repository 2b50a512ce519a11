// A libuv loop for a unit test, checked at the end: every handle the test made is closed.
#pragma once
#include <uv.h>

#include <catch2/catch.hpp>

struct Loop {
  uv_loop_t loop;
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);  // every handle closed
  }
};
