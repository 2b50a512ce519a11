// The `ochre` command line: parses arguments and runs one subcommand.
#pragma once

namespace ochre::cli {

// Runs the command line; returns the process exit status.
int main(int argc, char** argv);

}  // namespace ochre::cli
