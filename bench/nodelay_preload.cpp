// A what-if for the benchmarks, never for production: preloaded
// (LD_PRELOAD) into buildd-slave and the master, it sets TCP_NODELAY on every
// accepted connection. cpp-httplib 0.11 leaves Nagle on unless
// set_tcp_nodelay(true) is called, and it writes a response's headers and body
// separately: the body then waits for the client's delayed ACK (~40 ms on
// Linux) on every keep-alive call after the first. bench/run --nagle runs
// without this shim, to show that cost.

#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace {

int with_nodelay(int fd) {
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on AF_UNIX
  }
  return fd;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int accept(int fd, sockaddr* addr,
                                                             socklen_t* len) {
  using Fn = int (*)(int, sockaddr*, socklen_t*);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "accept"));
  return with_nodelay(real(fd, addr, len));
}

extern "C" __attribute__((visibility("default"))) int accept4(int fd, sockaddr* addr,
                                                              socklen_t* len, int flags) {
  using Fn = int (*)(int, sockaddr*, socklen_t*, int);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "accept4"));
  return with_nodelay(real(fd, addr, len, flags));
}
