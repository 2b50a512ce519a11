// The Slurm executor (see slurm.hpp). A job's life: its directory and wrapper script are
// written and its submission journaled (start); sbatch runs on the next turn of the loop,
// once whatever batch the journal write was part of has committed; the job id is
// journaled; one timer then looks for exit files every `files` seconds and asks squeue
// about every job every `poll` seconds. The wrapper writes the command's exit code to a
// file when it ends, so a job is collected from the shared filesystem whether or not
// the scheduler still remembers it.
#include "engine/slurm.hpp"

#include <pwd.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "engine/hash.hpp"
#include "engine/notify.hpp"
#include "engine/slurm_programs.hpp"
#include "engine/state.hpp"
#include "ochre/errors.hpp"

namespace ochre {
namespace {

namespace fs = std::filesystem;
using namespace slurm_detail;

bool alive_state(const std::string& s) {
  static const std::set<std::string> alive = {"PENDING",   "RUNNING",     "CONFIGURING", "COMPLETING",
                                              "SUSPENDED", "REQUEUED",    "RESIZING",    "SIGNALING",
                                              "STAGE_OUT", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"};
  return alive.count(s) > 0;
}

// States in which the cluster, not the command, ended the job: it is run again.
bool lost_state(const std::string& s) { return s == "NODE_FAIL" || s == "BOOT_FAIL" || s == "PREEMPTED"; }

std::string user_name() {
  struct passwd* pw = getpwuid(getuid());
  return pw ? pw->pw_name : std::to_string(getuid());
}

double env_seconds(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  double d = std::strtod(v, &end);
  return end && *end == 0 && d > 0 ? d : fallback;
}

}  // namespace

SlurmTiming slurm_timing_from_env() {
  SlurmTiming t;
  t.poll = env_seconds("OCHRE_SLURM_POLL", t.poll);
  t.files = std::min(t.files, t.poll);
  t.give_up = env_seconds("OCHRE_SLURM_GIVE_UP", t.give_up);
  return t;
}

struct SlurmExecutor::Impl {
  enum class Phase { Queued, Submitting, Finding, Waiting };
  struct Job {
    ClusterCommand cmd;
    Done done;
    Output output;
    uint64_t shown[2] = {0, 0};  // bytes of out and err already given to `output`
    Submission sub;
    Phase phase = Phase::Queued;
    uint64_t deadline = 0;  // uv_now, 0: none
    int resubmits = 0;
    bool reattached = false;  // taken from the journal: a cancel there was ours
    bool asked = false;       // squeue answered about it (a re-attached job waits for that)
  };

  uv_loop_t* loop;
  std::function<StateStore*()> journal;
  SlurmTiming timing;
  uv_timer_t timer, kick;
  bool timer_on = false, closed = false;
  uint64_t next = 1;
  std::map<uint64_t, Job> jobs;
  std::multimap<std::string, std::string> dirs;  // key -> job directories this process made
  bool polling = false;
  uint64_t last_poll = 0, unreachable_since = 0;

  // False once the executor is destroyed: an sbatch or squeue still running then ends
  // on a loop that outlives it, and its callback must not touch it.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  StateStore* state() { return journal ? journal() : nullptr; }

  void journal_put(const Job& j) {
    if (StateStore* s = state()) {
      std::lock_guard<std::mutex> use(s->hook_use());
      s->put_submission(j.sub);
    }
  }

  void ensure_timer() {
    if (timer_on || closed) return;
    timer_on = true;
    uint64_t ms = static_cast<uint64_t>(timing.files * 1000);
    uv_timer_start(&timer, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->guarded(&Impl::tick); }, ms, ms);
  }
  void stop_timer_if_idle() {
    if (timer_on && jobs.empty()) {
      uv_timer_stop(&timer);
      timer_on = false;
    }
  }

  // Writes the job's directory: the command, its stdin and the wrapper sbatch runs.
  void prepare(Job& j) {
    j.sub.token = new_delivery_id();
    j.sub.dir = j.cmd.dir + "/" + j.sub.token;
    j.sub.job_id.clear();
    j.shown[0] = j.shown[1] = 0;
    std::error_code ec;
    fs::create_directories(j.sub.dir, ec);
    if (ec) fail(Msg::SlurmDirectory, {j.sub.dir + ": " + ec.message()});
    dirs.emplace(j.cmd.key, j.sub.dir);
    std::string d = sh_quote(j.sub.dir);
    write_file(j.sub.dir + "/command", j.cmd.command + "\n");
    if (j.cmd.has_stdin) write_file(j.sub.dir + "/stdin", j.cmd.stdin_text);
    // A job the cluster stops (scancel, its time limit) leaves no exit code: it ended,
    // the command did not, and a re-attach must tell the two apart.
    write_file(j.sub.dir + "/job.sh",
               "#!/bin/sh\n# Written by ochre: runs the command, then leaves its exit code for ochre.\n"
               "trap 'stopped=1' TERM INT HUP\n"
               "/bin/sh " + d + "/command < " + (j.cmd.has_stdin ? d + "/stdin" : std::string("/dev/null")) +
                   "\ncode=$?\n[ -n \"$stopped\" ] && exit $code\nprintf '%s\\n' \"$code\" > " + d +
                   "/exit.tmp && mv -f " + d + "/exit.tmp " + d + "/exit\nexit $code\n");
    j.phase = Phase::Queued;
  }

  // sbatch processes at once: more only queue at the controller and compete for CPU.
  static constexpr int kSubmitting = 4;
  void kick_flush() {
    uv_timer_start(&kick, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->guarded(&Impl::flush); }, 0, 0);
  }

  void submit(uint64_t h) {
    Job& j = jobs.at(h);
    j.phase = Phase::Submitting;
    const SlurmSpec& s = j.cmd.spec;
    std::vector<std::string> a = {"sbatch", "--parsable", "--job-name=" + (s.name.empty() ? j.cmd.key : s.name),
                                  "--comment=ochre:" + j.sub.token, "--output=" + j.sub.dir + "/out",
                                  "--error=" + j.sub.dir + "/err"};
    if (!s.partition.empty()) a.push_back("--partition=" + s.partition);
    if (s.cpus > 0) a.push_back("--cpus-per-task=" + std::to_string(s.cpus));
    if (!s.mem.empty()) a.push_back("--mem=" + s.mem);
    if (!s.time.empty()) a.push_back("--time=" + s.time);
    if (s.gpus > 0) a.push_back("--gpus=" + std::to_string(s.gpus));
    a.insert(a.end(), s.extra.begin(), s.extra.end());
    a.push_back(j.sub.dir + "/job.sh");
    int rc = run_program(loop, a, &j.cmd.env, j.cmd.cwd,
                         [this, h, alive = alive](long long code, std::string out, std::string err) {
      if (!*alive) return;  // the executor is gone; the loop ran on
      auto it = jobs.find(h);
      if (it == jobs.end()) return;  // cancelled meanwhile
      Job& j = it->second;
      kick_flush();  // the next queued submission
      std::string id = trim(out.substr(0, out.find(';')));
      if (code != 0 || id.empty()) {
        err = trim(err);
        return end(h, failure(message(Msg::SlurmRejected, {err.empty() ? "sbatch exited with " + std::to_string(code) : err})));
      }
      j.sub.job_id = id;
      j.phase = Phase::Waiting;
      try {
        journal_put(j);
      } catch (const std::exception& e) {
        return end(h, failure(e.what()));
      }
    });
    if (rc != 0) {
      kick_flush();
      end(h, failure(rc == UV_ENOENT ? message(Msg::SlurmNoSbatch) : message(Msg::SlurmRejected, {uv_strerror(rc)})));
    }
  }

  static ClusterResult failure(std::string why) {
    ClusterResult r;
    r.error = std::move(why);
    return r;
  }

  void end(uint64_t h, ClusterResult r) {
    auto it = jobs.find(h);
    if (it == jobs.end()) return;
    Done done = std::move(it->second.done);
    r.job_id = it->second.sub.job_id;
    jobs.erase(it);
    stop_timer_if_idle();
    done(std::move(r));
  }

  // The job's exit file, if the wrapper wrote it: the job is collected.
  bool collect(uint64_t h) {
    Job& j = jobs.at(h);
    std::string code;
    if (!read_file(j.sub.dir + "/exit", code)) return false;
    ClusterResult r;
    r.code = std::atoll(code.c_str());
    read_file(j.sub.dir + "/out", r.out);
    read_file(j.sub.dir + "/err", r.err);
    show(j, r.out, r.err);
    end(h, std::move(r));
    return true;
  }

  // Gives `output` what the job's files hold past what it was given. With `out` and
  // `err` empty, reads only what grew since the last look.
  void show(Job& j, const std::string& out = {}, const std::string& err = {}) {
    if (!j.output) return;
    const std::string* whole[2] = {&out, &err};
    const char* names[2] = {"/out", "/err"};
    for (int i = 0; i < 2; ++i) {
      std::string more;
      if (!whole[i]->empty()) {
        if (whole[i]->size() > j.shown[i]) more = whole[i]->substr(j.shown[i]);
      } else {
        std::error_code ec;
        auto size = fs::file_size(j.sub.dir + names[i], ec);
        if (ec || size <= j.shown[i]) continue;
        std::ifstream f(j.sub.dir + names[i], std::ios::binary);
        f.seekg(static_cast<std::streamoff>(j.shown[i]));
        more.resize(size - j.shown[i]);
        f.read(more.data(), static_cast<std::streamsize>(more.size()));
        more.resize(static_cast<size_t>(f.gcount()));
      }
      j.shown[i] += more.size();
      if (!more.empty()) j.output(more);
    }
  }

  void resubmit(uint64_t h) {
    Job& j = jobs.at(h);
    if (++j.resubmits > timing.resubmits)
      return end(h, failure(message(Msg::SlurmLost, {j.sub.job_id, std::to_string(timing.resubmits)})));
    fresh(h);
  }

  // A new submission of the job: a new directory, journaled, submitted on the next turn.
  void fresh(uint64_t h) {
    Job& j = jobs.at(h);
    prepare(j);
    journal_put(j);
    kick_flush();
  }

  // Runs a step of the loop's callbacks; an error (the state failing) ends every job
  // with its message rather than unwinding through libuv.
  void guarded(void (Impl::*step)()) {
    try {
      (this->*step)();
    } catch (const std::exception& e) {
      std::vector<uint64_t> hs;
      for (auto& [h, j] : jobs) hs.push_back(h);
      for (uint64_t h : hs) end(h, failure(e.what()));
    }
  }

  // Submits what was queued (the turn after start: its journal row has committed).
  void flush() {
    std::vector<uint64_t> queued;
    int submitting = 0;
    for (auto& [h, j] : jobs) {
      if (j.phase == Phase::Queued) queued.push_back(h);
      submitting += j.phase == Phase::Submitting;
    }
    for (uint64_t h : queued)
      if (submitting++ < kSubmitting) submit(h);
  }

  void tick() {
    uint64_t now = uv_now(loop);
    std::vector<uint64_t> hs;
    for (auto& [h, j] : jobs) hs.push_back(h);
    for (uint64_t h : hs) {
      auto it = jobs.find(h);
      if (it == jobs.end()) continue;
      Job& j = it->second;
      if (j.deadline && now >= j.deadline) {
        if (!j.sub.job_id.empty()) scancel({j.sub.job_id});
        ClusterResult r;
        r.code = 124;
        r.timed_out = true;
        read_file(j.sub.dir + "/out", r.out);
        read_file(j.sub.dir + "/err", r.err);
        show(j, r.out, r.err);
        end(h, std::move(r));
        continue;
      }
      if (j.phase == Phase::Waiting && (j.asked || !j.reattached) && !collect(h)) show(jobs.at(h));
    }
    if (!polling && !jobs.empty() && now - last_poll >= static_cast<uint64_t>(timing.poll * 1000)) poll();
  }

  // One squeue for every job (by id, or the user's jobs when one must be found by its
  // token after a crash between sbatch and the journal).
  void poll() {
    std::vector<std::string> ids;
    bool finding = false;
    asked_.clear();
    for (auto& [h, j] : jobs) {
      if (j.phase == Phase::Waiting) ids.push_back(j.sub.job_id);
      if (j.phase == Phase::Finding) finding = true;
      if (j.phase == Phase::Waiting || j.phase == Phase::Finding) asked_.insert(h);
    }
    if (ids.empty() && !finding) return;
    std::vector<std::string> a = {"squeue", "-h", "-t", "all", "-o", "%i %T %k"};
    if (finding) {
      a.push_back("-u");
      a.push_back(user_name());
    } else {
      std::string list;
      for (auto& id : ids) list += (list.empty() ? "" : ",") + id;
      a.push_back("-j");
      a.push_back(list);
    }
    polling = true;
    last_poll = uv_now(loop);
    int rc = run_program(loop, a, nullptr, "", [this, alive = alive](long long code, std::string out, std::string err) {
      if (!*alive) return;  // the executor is gone; the loop ran on
      polling = false;
      last_poll = uv_now(loop);
      if (closed) return;
      bool unknown_ids = err.find("Invalid job id") != std::string::npos;
      if (code != 0 && !unknown_ids) return unreachable(trim(err));
      unreachable_since = 0;
      std::map<std::string, std::string> state, by_token;
      std::istringstream lines(out);
      for (std::string line; std::getline(lines, line);) {
        std::istringstream f(line);
        std::string id, st, comment;
        f >> id >> st >> comment;
        state[id] = st;
        if (comment.rfind("ochre:", 0) == 0) by_token[comment.substr(6)] = id;
      }
      seen_ = {std::move(state), std::move(by_token)};
      guarded(&Impl::seen);
    });
    if (rc != 0) {
      polling = false;
      unreachable(rc == UV_ENOENT ? message(Msg::SlurmNoSbatch) : uv_strerror(rc));
    }
  }

  // What the last squeue said: each job's state by id, and job ids by token.
  std::pair<std::map<std::string, std::string>, std::map<std::string, std::string>> seen_;
  // The jobs that squeue was asked about. One submitted or re-attached while it ran is
  // absent from its answer without being lost, so only these are judged by it.
  std::set<uint64_t> asked_;

  void seen() {
    const auto& [state, by_token] = seen_;
    std::vector<uint64_t> hs(asked_.begin(), asked_.end());
    for (uint64_t h : hs) {
      auto it = jobs.find(h);
      if (it == jobs.end()) continue;
      Job& j = it->second;
      if (j.phase == Phase::Finding) {
        auto t = by_token.find(j.sub.token);
        if (t == by_token.end()) {
          // Never accepted, or long gone: its exit file says which.
          if (!collect(h)) fresh(h);
          continue;
        }
        j.sub.job_id = t->second;
        j.phase = Phase::Waiting;
        journal_put(j);
      }
      if (j.phase != Phase::Waiting) continue;
      auto s = state.find(j.sub.job_id);
      // Cancelled while ochre was away (by this ochre's cancel, or by hand): whatever
      // exit code its command left as it was stopped, the job is submitted again.
      bool cancelled_away = j.reattached && !j.asked && s != state.end() && s->second == "CANCELLED";
      j.asked = true;
      if (cancelled_away) {
        resubmit(h);
        continue;
      }
      if (s != state.end() && alive_state(s->second)) continue;
      if (collect(h)) continue;
      if (s == state.end() || lost_state(s->second)) {
        resubmit(h);
      } else {
        end(h, failure(message(Msg::SlurmEnded, {j.sub.job_id, s->second, j.sub.dir})));
      }
    }
  }

  void unreachable(const std::string& why) {
    uint64_t now = uv_now(loop);
    if (!unreachable_since) unreachable_since = now;
    if (now - unreachable_since < static_cast<uint64_t>(timing.give_up * 1000)) return;
    std::vector<uint64_t> hs;
    for (auto& [h, j] : jobs)
      if (j.phase == Phase::Waiting || j.phase == Phase::Finding) hs.push_back(h);
    // Their jobs may still run and finish: the journal keeps them for the next run to
    // re-attach to, rather than submit them a second time.
    for (uint64_t h : hs) keep.insert(jobs.at(h).cmd.key);
    for (uint64_t h : hs) end(h, failure(message(Msg::SlurmUnreachable, {why})));
  }
  std::set<std::string> keep;  // keys whose submissions outlive their hook
};

SlurmExecutor::SlurmExecutor(uv_loop_s* loop, std::function<StateStore*()> journal, SlurmTiming timing)
    : impl_(std::make_unique<Impl>()) {
  impl_->loop = loop;
  impl_->journal = std::move(journal);
  impl_->timing = timing;
  uv_timer_init(loop, &impl_->timer);
  uv_timer_init(loop, &impl_->kick);
  impl_->timer.data = impl_->kick.data = impl_.get();
}

SlurmExecutor::~SlurmExecutor() { *impl_->alive = false; }

void SlurmExecutor::close() {
  Impl& im = *impl_;
  if (im.closed) return;
  im.closed = true;
  im.journal = nullptr;
  im.jobs.clear();  // they keep running; the journal re-attaches to them
  for (uv_timer_t* t : {&im.timer, &im.kick})
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(t))) uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
}

uint64_t SlurmExecutor::start(ClusterCommand cmd, Done done, Output output) {
  Impl& im = *impl_;
  uint64_t h = im.next++;
  Impl::Job j;
  j.cmd = std::move(cmd);
  j.done = std::move(done);
  j.output = std::move(output);
  if (j.cmd.timeout > 0) j.deadline = uv_now(im.loop) + static_cast<uint64_t>(j.cmd.timeout * 1000);
  std::string spec = j.cmd.spec.partition + "\n" + j.cmd.spec.mem + "\n" + j.cmd.spec.time + "\n" + j.cmd.spec.name +
                     "\n" + std::to_string(j.cmd.spec.cpus) + "\n" + std::to_string(j.cmd.spec.gpus);
  for (auto& e : j.cmd.spec.extra) spec += "\n" + e;
  std::string digest = sha256_hex(j.cmd.command + '\0' + j.cmd.cwd + '\0' + (j.cmd.has_stdin ? "1" : "0") +
                                  j.cmd.stdin_text + '\0' + spec);
  StateStore* st = im.state();
  if (st) {
    std::vector<Submission> journaled;
    {
      std::lock_guard<std::mutex> use(st->hook_use());
      journaled = st->submissions(j.cmd.key);
    }
    for (Submission& s : journaled) {
      if (s.slot != j.cmd.slot) continue;
      if (s.digest == digest) {
        j.sub = s;
        j.reattached = true;
        j.phase = s.job_id.empty() ? Impl::Phase::Finding : Impl::Phase::Waiting;
      } else if (!s.job_id.empty()) {
        scancel({s.job_id});  // the command changed: its old job is of no use
      }
    }
  }
  j.sub.key = j.cmd.key;
  j.sub.slot = j.cmd.slot;
  j.sub.digest = digest;
  bool fresh = !j.reattached;
  if (fresh) im.prepare(j);
  auto& stored = im.jobs.emplace(h, std::move(j)).first->second;
  if (fresh) {
    im.journal_put(stored);
    im.kick_flush();
  } else {
    im.last_poll = 0;  // ask the scheduler at the next tick
  }
  im.ensure_timer();
  return h;
}

void SlurmExecutor::cancel(const std::vector<uint64_t>& handles) {
  Impl& im = *impl_;
  std::vector<std::string> ids;
  std::set<std::string> keys;
  for (uint64_t h : handles) {
    auto it = im.jobs.find(h);
    if (it == im.jobs.end()) continue;
    if (!it->second.sub.job_id.empty()) ids.push_back(it->second.sub.job_id);
    keys.insert(it->second.cmd.key);
    im.jobs.erase(it);
  }
  scancel(ids);
  for (const std::string& k : keys) hook_ended(k);
  im.stop_timer_if_idle();
}

void SlurmExecutor::hook_ended(const std::string& key) {
  Impl& im = *impl_;
  std::set<std::string> gone;
  auto [b, e] = im.dirs.equal_range(key);
  for (auto it = b; it != e; ++it) gone.insert(it->second);
  im.dirs.erase(b, e);
  if (im.keep.erase(key)) return;  // the scheduler could not say how its jobs ended
  if (StateStore* s = im.state()) {
    std::lock_guard<std::mutex> use(s->hook_use());
    for (const Submission& sub : s->submissions(key)) gone.insert(sub.dir);
    s->drop_submissions(key);
  }
  std::error_code ec;
  for (const std::string& d : gone) fs::remove_all(d, ec);
}

}  // namespace ochre
