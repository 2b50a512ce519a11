#include "engine/group_commit.hpp"

namespace ochre {

GroupCommit::~GroupCommit() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
}

void GroupCommit::open() {
  state_.begin_batch();
  std::lock_guard<std::mutex> lock(mu_);
  open_ = true;
  dirty_ = false;
}

void GroupCommit::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
    dirty_ = false;
  }
  state_.commit_batch();
}

void GroupCommit::wrote() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dirty_) return;
    dirty_ = true;
    since_ = std::chrono::steady_clock::now();
  }
  cv_.notify_one();  // once a group: the committer wakes when it is due
}

void GroupCommit::checkpoint() {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_ && dirty_ && std::chrono::steady_clock::now() - since_ >= window_) commit_locked();
}

void GroupCommit::commit_locked() {
  dirty_ = false;
  state_.commit_batch();
  state_.begin_batch();
  if (committed_) committed_(in_hook_);
}

void GroupCommit::hook_begins() {
  std::lock_guard<std::mutex> lock(mu_);
  in_hook_ = true;
  if (open_ && dirty_ && !thread_.joinable()) thread_ = std::thread([this] { committer(); });
}

void GroupCommit::hook_ended() {
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mu_);  // waits for a commit under way
    in_hook_ = false;
    std::swap(error, error_);
  }
  if (error) std::rethrow_exception(error);
}

void GroupCommit::committer() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (!open_ || !dirty_ || error_) {
      cv_.wait(lock);
      continue;
    }
    auto due = since_ + window_;
    if (std::chrono::steady_clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    if (!in_hook_) {  // the loop thread commits at its next checkpoint
      cv_.wait_for(lock, window_ / 4);
      continue;
    }
    try {
      std::lock_guard<std::mutex> store(state_.hook_use());
      commit_locked();
    } catch (...) {
      error_ = std::current_exception();
    }
  }
}

}  // namespace ochre
