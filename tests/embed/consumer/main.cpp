// A tiny host built against an installed ochre: plans and applies one component.
#include <iostream>

#include "ochre/ochre.hpp"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  ochre::Options o;
  o.state_path = argv[1];
  ochre::Engine e(o);
  e.load_string("local ochre = require 'ochre'\nreturn ochre.Component 'sub'\n", "consumer.lua");
  e.plan();
  std::cout << e.plan_table();
  ochre::RunResult r = e.apply();
  std::cout << r.summary << "\n";
  return r.exit_code();
}
