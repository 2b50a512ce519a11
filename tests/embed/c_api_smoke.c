/* The C API from C: load, plan, apply, re-plan, destroy. Usage: c_api_smoke DIR */
#include <stdio.h>
#include <string.h>

#include "ochre/ochre.h"

static int lines = 0;
static void on_line(void* user, const char* key, const char* line) {
  (void)user;
  printf("[%s] %s\n", key, line);
  ++lines;
}

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "FAILED: %s (%s)\n", #c, ochre_last_error(e)); return 1; } } while (0)

int main(int argc, char** argv) {
  char state[4096];
  if (argc != 2) return 2;
  snprintf(state, sizeof state, "%s/state.db", argv[1]);
  const char* pipeline =
      "local ochre = require 'ochre'\n"
      "local C = ochre.component 'C' { fields = { n = 1 }, create = function(self) print('made ' .. self.n) end }\n"
      "return C 'c' {}\n";
  ochre_engine* e = ochre_new(state);
  CHECK(e != NULL);
  ochre_set_output(e, on_line, NULL);
  CHECK(ochre_load_string(e, pipeline, "c.lua") == 0);
  CHECK(ochre_plan(e) == 0);
  CHECK(ochre_job_count(e) == 1);
  CHECK(strstr(ochre_job_details(e, 0), "C/c/") != NULL);
  CHECK(strstr(ochre_plan_json(e), "\"key\":\"C/c\"") != NULL);
  CHECK(ochre_apply(e) == 0);
  CHECK(lines == 1);
  CHECK(strcmp(ochre_summary(e), "1 done") == 0);
  ochre_free(e);

  e = ochre_new(state);
  CHECK(ochre_load_string(e, "return 42", "bad.lua") == 2);
  CHECK(strstr(ochre_last_error(e), "bad.lua") != NULL);
  CHECK(ochre_load_string(e, pipeline, "c.lua") == 0);
  CHECK(ochre_plan(e) == 0);
  CHECK(ochre_job_count(e) == 0);
  CHECK(ochre_plan_destroy(e) == 0);
  CHECK(ochre_apply(e) == 0);
  ochre_free(e);
  printf("C API: all checks passed\n");
  return 0;
}
