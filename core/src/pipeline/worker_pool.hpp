#pragma once

// run_on_pool: the bounded worker pool of a cycle (private to the pipeline).
// Runs task(i) for every i in [0, count) on at most max_threads threads (the
// calling thread alone when one is enough) and returns when all are done.
//
// Threading: tasks run concurrently; each index runs exactly once, so a task
// that touches only the state of its own index needs no lock.
// Errors: task must not throw (an escaping exception would terminate).

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace buildd::detail {

template <typename Task>
void run_on_pool(std::size_t count, std::size_t max_threads, Task&& task) {
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) task(i);
  };
  const std::size_t threads = std::min(count, std::max<std::size_t>(1, max_threads));
  if (threads <= 1) {
    worker();
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();  // the calling thread takes its share too
  for (auto& th : pool) th.join();
}

}  // namespace buildd::detail
