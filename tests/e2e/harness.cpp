#include "e2e/harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace e2e {

namespace {

// One connection to the test cluster for the whole test process: a connection costs the
// server a process, and a case reads the state a dozen times. A connection the server cut
// (the restart test) is opened again.
PGconn* pg_connection(bool fresh) {
  static PGconn* c = nullptr;
  if (c && (fresh || PQstatus(c) != CONNECTION_OK)) {
    PQfinish(c);
    c = nullptr;
  }
  if (!c) {
    c = PQconnectdb(postgres_url().c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::string m = PQerrorMessage(c);
      PQfinish(c);
      c = nullptr;
      throw std::runtime_error("cannot connect to the test cluster: " + m);
    }
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  }
  return c;
}

// Runs `sql` on the test cluster; throws with the server's message on failure. With a
// `setup` (temporary views), both run in a transaction that is rolled back, so the
// connection is left as it was.
std::vector<std::string> pg_exec(const std::string& sql, const std::string& setup = "") {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  for (int attempt = 0;; ++attempt) {
    PGconn* c = pg_connection(attempt > 0);
    std::vector<std::string> rows;
    std::string error;
    std::vector<std::string> steps;
    if (!setup.empty()) steps = {"BEGIN", setup};
    steps.push_back(sql);
    for (size_t i = 0; i < steps.size() && error.empty(); ++i) {
      PGresult* r = PQexec(c, steps[i].c_str());
      auto st = PQresultStatus(r);
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        error = "bad query: " + std::string(PQresultErrorMessage(r)) + " in: " + steps[i];
      } else if (i + 1 == steps.size()) {
        for (int row_i = 0; row_i < PQntuples(r); ++row_i) {
          std::string row;
          for (int col = 0; col < PQnfields(r); ++col) {
            if (col) row += '|';
            std::string v = PQgetvalue(r, row_i, col);
            if (PQftype(r, col) == 16 /* bool */ && !PQgetisnull(r, row_i, col)) v = v == "t" ? "1" : "0";
            row += v;
          }
          rows.push_back(row);
        }
      }
      PQclear(r);
    }
    if (PQstatus(c) != CONNECTION_OK) {
      if (attempt == 0) continue;  // cut by a restart: once more on a new connection
      throw std::runtime_error("lost the test cluster: " + std::string(PQerrorMessage(c)));
    }
    if (PQtransactionStatus(c) != PQTRANS_IDLE) PQclear(PQexec(c, "ROLLBACK"));
    if (!error.empty()) throw std::runtime_error(error);
    return rows;
  }
}

}  // namespace

bool postgres_backend() {
  const char* b = std::getenv("OCHRE_E2E_BACKEND");
  return b && std::string(b) == "postgres";
}

std::string postgres_url() {
  const char* u = std::getenv("OCHRE_TEST_PG");
  if (!u || !*u) throw std::runtime_error("OCHRE_TEST_PG is not set: run the tests under scripts/with-postgres.sh");
  return u;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ochre-e2e-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
  if (postgres_backend()) {
    // A schema of its own in the test cluster, named after the directory.
    schema_ = "e2e_";
    for (char ch : std::filesystem::path(path_).filename().string().substr(10))
      schema_ += std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(ch)) : '_';
    schema_ += "_" + std::to_string(getpid());
    std::string url = postgres_url();
    state_ = url + (url.find('?') == std::string::npos ? "?" : "&") + "schema=" + schema_;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (!schema_.empty()) {
    try {
      pg_exec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
    } catch (const std::exception&) {
      // The cluster goes away with the test run.
    }
  }
}

bool TempDir::has_state() const {
  if (schema_.empty()) return exists(".ochre/state.db");
  return pg_exec("SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema_ + "'") == std::vector<std::string>{"1"};
}

std::string TempDir::state_bytes() const {
  if (schema_.empty()) return bytes(".ochre/state.db");
  if (!has_state()) return "";
  std::string out;
  for (const char* table : {"meta", "workspaces", "instances", "roots", "runs", "jobs", "versions"}) {
    out += std::string("-- ") + table + "\n";
    for (const auto& row : pg_exec(std::string("SELECT t::text FROM \"") + schema_ + "\"." + table + " t ORDER BY 1"))
      out += row + "\n";
  }
  return out;
}

bool TempDir::waiting_for_lock(pid_t pid) const {
  if (schema_.empty()) return has_open(pid, file(".ochre/state.db.lock"));
  return pg_exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ochre pid " + std::to_string(pid) +
                 "' AND query LIKE '%pg_try_advisory_lock%'") == std::vector<std::string>{"1"};
}

void TempDir::forget_state() const {
  std::error_code ec;
  std::filesystem::remove_all(file(".ochre"), ec);
  if (!schema_.empty()) pg_exec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
}

void TempDir::write(const std::string& name, const std::string& text) const {
  auto p = std::filesystem::path(file(name));
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string TempDir::read(const std::string& name) const {
  std::ifstream in(file(name), std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool TempDir::exists(const std::string& name) const { return std::filesystem::exists(file(name)); }

std::string TempDir::bytes(const std::string& name) const {
  return exists(name) ? read(name) : std::string();
}

Result TempDir::ochre(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env) const {
  return start(args, env)->wait();
}

std::unique_ptr<Process> TempDir::start(const std::vector<std::string>& args,
                                        const std::map<std::string, std::string>& env) const {
  std::vector<std::string> argv{OCHRE_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return start_program(std::move(argv), env);
}

Result TempDir::run(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env) const {
  return start_program(argv, env)->wait();
}

std::unique_ptr<Process> TempDir::start_program(std::vector<std::string> argv_s,
                                        const std::map<std::string, std::string>& env) const {
  // Everything the child needs is prepared before fork: other threads (the readers of
  // other processes) may hold locks the child would otherwise wait on forever.
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  vars.erase("OCHRE_STATE");
  vars.erase("OCHRE_WORKSPACE");
  if (!state_.empty()) vars["OCHRE_STATE"] = state_;  // the PostgreSQL run of the suite
  vars["NO_COLOR"] = "1";
  vars["OCHRE"] = OCHRE_BIN;
  for (const auto& [k, v] : env) vars[k] = v;
  std::vector<std::string> env_s;
  for (const auto& [k, v] : vars) env_s.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork");
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    dup2(devnull, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) sigaction(sig, &dfl, nullptr);
    setpgid(0, 0);
    if (chdir(path_.c_str()) != 0) _exit(127);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also here, so a signal to the group cannot come before the child's
  close(devnull);
  close(out_pipe[1]);
  close(err_pipe[1]);
  return std::make_unique<Process>(pid, out_pipe[0], err_pipe[0]);
}

bool TempDir::wait_for_file(const std::string& name, double timeout) const {
  return wait_until([&] { return exists(name); }, timeout);
}

std::vector<std::string> TempDir::lines(const std::string& name) const {
  std::vector<std::string> out;
  std::istringstream in(bytes(name));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

Process::Process(pid_t pid, int out_fd, int err_fd) : pid_(pid), fds_{out_fd, err_fd} {
  reader_ = std::thread([this] { drain(); });
}

Process::~Process() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  if (reader_.joinable()) {
    stop_ = true;
    reader_.join();
  }
}

void Process::drain() {
  pollfd fds[2] = {{fds_[0], POLLIN, 0}, {fds_[1], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0 && !stop_) {
    int n = poll(fds, 2, 20);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        std::lock_guard<std::mutex> g(mu_);
        (i == 0 ? out_ : err_).append(buf, got);
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  eof_ = true;
}

bool Process::signal(int sig) { return !reaped_ && ::kill(pid_, sig) == 0; }

bool Process::signal_group(int sig) { return !reaped_ && ::kill(-pid_, sig) == 0; }

bool Process::running() {
  if (reaped_) return false;
  pid_t r = waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

Result Process::wait() {
  if (!reaped_) {
    while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  if (reader_.joinable()) {
    // Its output ends when the last writer closes; a child it left behind holding the
    // pipes must not hang the test.
    wait_until([&] { return eof_.load(); }, 10);
    stop_ = true;
    reader_.join();
  }
  Result r;
  r.code = WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  std::lock_guard<std::mutex> g(mu_);
  r.out = out_;
  r.err = err_;
  return r;
}

std::string Process::out_so_far() const {
  std::lock_guard<std::mutex> g(mu_);
  return out_;
}

std::string Process::err_so_far() const {
  std::lock_guard<std::mutex> g(mu_);
  return err_;
}

bool wait_until(const std::function<bool()>& cond, double timeout) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
}

bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  // A zombie runs no more; whether something reaps it is not ochre's business.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

bool has_open(pid_t pid, const std::string& path) {
  std::error_code ec;
  auto want = std::filesystem::weakly_canonical(path, ec);
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::error_code ec2;
    auto target = std::filesystem::read_symlink(it->path(), ec2);
    if (!ec2 && target == want) return true;
  }
  return false;
}

pid_t dead_pid() {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork");
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

std::vector<std::string> TempDir::query(const std::string& sql, const std::string& db) const {
  if (!schema_.empty() && db == ".ochre/state.db") {
    // The same tables as in SQLite, text where the store keeps bytes.
    std::string s = "\"" + schema_ + "\".";
    std::string views =
        "CREATE TEMP VIEW instances AS SELECT convert_from(key, 'UTF8') AS key, convert_from(type, 'UTF8') AS type, "
        "convert_from(identifier, 'UTF8') AS identifier, uuid, hash, convert_from(fields, 'UTF8') AS fields, "
        "convert_from(outputs, 'UTF8') AS outputs, convert_from(deps, 'UTF8') AS deps, status, action, "
        "convert_from(error, 'UTF8') AS error, run, updated FROM " + s + "instances;"
        "CREATE TEMP VIEW roots AS SELECT convert_from(source, 'UTF8') AS source, convert_from(key, 'UTF8') AS key "
        "FROM " + s + "roots;"
        "CREATE TEMP VIEW runs AS SELECT id, command, convert_from(source, 'UTF8') AS source, started, ended, "
        "outcome, convert_from(summary, 'UTF8') AS summary, pid, convert_from(host, 'UTF8') AS host, "
        "convert_from(\"user\", 'UTF8') AS \"user\" FROM " + s + "runs;"
        "CREATE TEMP VIEW jobs AS SELECT id, run, seq, convert_from(key, 'UTF8') AS key, uuid, action, started, "
        "ended, outcome, convert_from(error, 'UTF8') AS error, convert_from(output, 'UTF8') AS output FROM " + s +
        "jobs;"
        "CREATE TEMP VIEW versions AS SELECT id, convert_from(key, 'UTF8') AS key, uuid, hash, "
        "convert_from(fields, 'UTF8') AS fields, convert_from(outputs, 'UTF8') AS outputs, action, run, job, at "
        "FROM " + s + "versions;"
        "CREATE TEMP VIEW outbox AS SELECT seq, id, event, convert_from(url, 'UTF8') AS url, "
        "convert_from(body, 'UTF8') AS body, signature, run, created, attempts, next_at, "
        "convert_from(error, 'UTF8') AS error, delivered FROM " + s + "outbox;";
    try {
      return pg_exec(sql, views);
    } catch (const std::runtime_error& e) {
      // Nothing stored yet: no tables, no rows.
      if (std::string(e.what()).find("relation \"" + schema_ + ".") != std::string::npos) return {};
      throw;
    }
  }
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(file(db).c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    throw std::runtime_error("cannot open " + db);
  }
  std::vector<std::string> rows;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    std::string m = sqlite3_errmsg(h);
    sqlite3_close(h);
    throw std::runtime_error("bad query: " + m);
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      if (c) row += '|';
      auto t = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
      row += t ? t : "";
    }
    rows.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return rows;
}

void TempDir::change_state(const std::string& sql) const {
  if (!schema_.empty()) {
    pg_exec(sql + "; COMMIT", "SET LOCAL search_path TO \"" + schema_ + "\"");
    return;
  }
  sqlite3* h = nullptr;
  int rc = sqlite3_open_v2(file(".ochre/state.db").c_str(), &h, SQLITE_OPEN_READWRITE, nullptr);
  char* err = nullptr;
  if (rc == SQLITE_OK) rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  std::string m = err ? err : sqlite3_errmsg(h);
  sqlite3_free(err);
  sqlite3_close(h);
  if (rc != SQLITE_OK) throw std::runtime_error("cannot change the state: " + m);
}

int count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace e2e
