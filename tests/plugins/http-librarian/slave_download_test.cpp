// A slave (the real buildd-slave) downloads a chroot through the URL the
// librarian gives: nginx's URL for http-librarian, the master's
// /+files/<id>/<filename> for file-librarian.

#include <gtest/gtest.h>
#include <xmlrpc-c/base.hpp>
#include <xmlrpc-c/client_simple.hpp>

#include "buildd/conformance/archive_test_helpers.hpp"
#include "buildd/conformance/memory_library_store.hpp"
#include "buildd/http_server.hpp"
#include "buildd/librarian.hpp"
#include "file_librarian.hpp"
#include "http_librarian.hpp"
#include "support/nginx_server.hpp"
#include "support/slave_process.hpp"

namespace buildd::test {
namespace {

void expect_slave_downloads(Librarian& librarian, const std::filesystem::path& chroot) {
  LibraryFile file = librarian.store_file(chroot, "chroot-sid-amd64.tar.gz", "application/gzip");
  std::string url = librarian.url_for(file);

  SlaveProcess slave;
  xmlrpc_c::clientSimple client;
  xmlrpc_c::value result;
  client.call(slave.rpc_url(), "ensurepresent", "ssss", &result, file.sha1.c_str(), url.c_str(), "",
              "");
  auto reply = xmlrpc_c::value_array(result).vectorValueValue();
  ASSERT_EQ(reply.size(), 2u);
  EXPECT_TRUE(static_cast<bool>(xmlrpc_c::value_boolean(reply[0]))) << url;
  EXPECT_EQ(static_cast<std::string>(xmlrpc_c::value_string(reply[1])), "Download");
  auto cached = slave.builder_cache_dir() / file.sha1;
  ASSERT_TRUE(std::filesystem::exists(cached)) << cached;
  EXPECT_EQ(digest_file(cached).sha256, file.sha256);
}

TEST(SlaveDownloadTest, FromNginxThroughHttpLibrarian) {
  TempDir dir;
  NginxServer nginx;
  HttpLibrarianOptions o = http_librarian_default_options(nginx.url() + "/librarian");
  o.temp_dir = dir.path();
  HttpLibrarian archive(o);
  MemoryLibraryStore store;
  Librarian librarian(store, archive, dir / "tmp", "http://127.0.0.1:1");
  write_pseudo_random_file(dir / "chroot", 3 * 1024 * 1024 + 1);
  expect_slave_downloads(librarian, dir / "chroot");
}

TEST(SlaveDownloadTest, FromTheMastersFilesRoute) {
  TempDir dir;
  FileLibrarian archive(dir / "archive");
  MemoryLibraryStore store;
  // Routes go in before start(), and the librarian needs the URL first.
  std::string listen = "127.0.0.1:" + std::to_string(free_port());
  Librarian librarian(store, archive, dir / "tmp", "http://" + listen);
  HttpServer server(listen);
  server.serve_library(librarian);
  server.start();
  write_pseudo_random_file(dir / "chroot", 3 * 1024 * 1024 + 1);
  expect_slave_downloads(librarian, dir / "chroot");
}

}  // namespace
}  // namespace buildd::test
