// The programs the Slurm executor runs (sbatch, squeue, scancel) and the files of a
// job's directory: small helpers kept apart from the executor's logic (slurm.cpp).
#pragma once
#include <uv.h>

#include <functional>
#include <string>
#include <vector>

namespace ochre::slurm_detail {

std::string trim(std::string s);
std::string sh_quote(const std::string& s);
// The file's whole text into `out`; false when it cannot be read (it does not exist).
bool read_file(const std::string& path, std::string& out);
// Writes `text` to `path`, replacing it; fails (SlurmDirectory) when it cannot.
void write_file(const std::string& path, const std::string& text);

using ProgramDone = std::function<void(long long code, std::string out, std::string err)>;
// Starts `args` (looked up on PATH, in `env` when given) on the loop, its output
// captured; `done` gets the exit status (-1: killed by a signal), stdout and stderr.
// Returns libuv's error, 0 when it started.
int run_program(uv_loop_t* loop, const std::vector<std::string>& args, const std::vector<std::string>* env,
                const std::string& cwd, ProgramDone done);
// Runs scancel for `ids` and waits for it.
void scancel(const std::vector<std::string>& ids);

}  // namespace ochre::slurm_detail
