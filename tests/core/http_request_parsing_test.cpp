// The embedded HTTP server's pure parsing rules (core/src/http/
// http_request_parsing.hpp): percent-decoding, targets, queries, Range
// headers and response heads, byte by byte.

#include "http_request_parsing.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace buildd::http_detail {
namespace {

using Kind = ByteRange::Kind;

TEST(HttpPercentDecode, DecodesHexPairsAndKeepsBrokenEscapes) {
  EXPECT_EQ(percent_decode("a%20b%2Fc%2f", false), "a b/c/");
  EXPECT_EQ(percent_decode("100%", false), "100%");
  EXPECT_EQ(percent_decode("%4", false), "%4");
  EXPECT_EQ(percent_decode("%zz%41", false), "%zzA");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%2B", true), "+");
  EXPECT_EQ(percent_decode("", true), "");
}

TEST(HttpSplitTarget, OriginAndAbsoluteForms) {
  auto t = split_target("/+files/12/a%20b.txt?x=1&y=2#frag");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/+files/12/a b.txt");
  EXPECT_EQ(t->query, "x=1&y=2");

  t = split_target("http://master:8080/builders?limit=5");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/builders");
  EXPECT_EQ(t->query, "limit=5");
  t = split_target("HTTPS://master");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/");
  t = split_target("http://master?q");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/");
  EXPECT_EQ(t->query, "q");

  t = split_target("/only");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->query, "");
}

TEST(HttpSplitTarget, RefusesOtherFormsAndNulBytes) {
  EXPECT_FALSE(split_target(""));
  EXPECT_FALSE(split_target("*"));
  EXPECT_FALSE(split_target("master:8080"));
  EXPECT_FALSE(split_target("builders"));
  EXPECT_FALSE(split_target("/a%00b"));
  EXPECT_FALSE(split_target("#/x"));
}

TEST(HttpParseQuery, DecodesPairsFirstKeyWins) {
  auto q = parse_query("state=FULLY+BUILT&limit=5&limit=7&flag&=novalue&a=b=c&&%41=%42");
  EXPECT_EQ(q.at("state"), "FULLY BUILT");
  EXPECT_EQ(q.at("limit"), "5");
  EXPECT_EQ(q.at("flag"), "");
  EXPECT_EQ(q.at("a"), "b=c");
  EXPECT_EQ(q.at("A"), "B");
  EXPECT_EQ(q.count(""), 0u);
  EXPECT_EQ(q.size(), 5u);
  EXPECT_TRUE(parse_query("").empty());
}

TEST(HttpParseRange, SatisfiableRanges) {
  auto r = parse_range("bytes=5-9", 20);
  EXPECT_EQ(r.kind, Kind::kSatisfiable);
  EXPECT_EQ(r.first, 5u);
  EXPECT_EQ(r.length, 5u);
  EXPECT_EQ(content_range(r, 20), "bytes 5-9/20");

  r = parse_range("bytes=15-", 20);
  EXPECT_EQ(r.kind, Kind::kSatisfiable);
  EXPECT_EQ(content_range(r, 20), "bytes 15-19/20");

  r = parse_range("bytes=10-1000", 20);  // last clamped to the end
  EXPECT_EQ(content_range(r, 20), "bytes 10-19/20");

  r = parse_range("bytes=-5", 20);  // suffix
  EXPECT_EQ(r.kind, Kind::kSatisfiable);
  EXPECT_EQ(content_range(r, 20), "bytes 15-19/20");

  r = parse_range("bytes=-50", 20);  // suffix longer than the body: all of it
  EXPECT_EQ(content_range(r, 20), "bytes 0-19/20");

  r = parse_range("  Bytes = 0-0 ", 20);
  EXPECT_EQ(r.kind, Kind::kSatisfiable);
  EXPECT_EQ(content_range(r, 20), "bytes 0-0/20");

  r = parse_range("bytes=0-99999999999999999999999", 20);  // saturates, not wraps
  EXPECT_EQ(content_range(r, 20), "bytes 0-19/20");
}

TEST(HttpParseRange, Unsatisfiable) {
  EXPECT_EQ(parse_range("bytes=20-", 20).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=25-30", 20).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 20).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-", 0).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=-1", 0).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=99999999999999999999999-", 20).kind, Kind::kUnsatisfiable);
}

TEST(HttpParseRange, IgnoredHeadersServeTheWholeBody) {
  for (const char* h :
       {"", "bytes", "bytes=", "bytes=-", "bytes=9-5", "bytes=a-b", "bytes=1-2x", "items=0-5",
        "bytes=0-1,5-6", "bytes 0-5", "bytes=+1-2", "bytes=--1", "bytes=1--2"})
    EXPECT_EQ(parse_range(h, 20).kind, Kind::kNone) << h;
}

TEST(HttpResponseHead, FormatsAndSanitises) {
  auto head = format_response_head(206, {{"Content-Type", "text/plain"},
                                         {"X-Evil", "a\r\nSet-Cookie: x=1\0"},
                                         {"Bad Name", "v"},
                                         {"", "v"},
                                         {"Bad:Name", "v"},
                                         {"Content-Length", "5"}});
  EXPECT_EQ(head,
            "HTTP/1.1 206 Partial Content\r\nContent-Type: text/plain\r\n"
            "X-Evil: aSet-Cookie: x=1\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(format_response_head(416, {}), "HTTP/1.1 416 Range Not Satisfiable\r\n\r\n");
  EXPECT_EQ(format_response_head(42, {}), "HTTP/1.1 500 Internal Server Error\r\n\r\n");
  EXPECT_EQ(reason_phrase(599), "Unknown");
}

TEST(HttpAcceptsGzip, ReadsCodingsAndQualities) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("gzip, deflate, br"));
  EXPECT_TRUE(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
  EXPECT_TRUE(accepts_gzip("x-gzip"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_FALSE(accepts_gzip(""));
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip("deflate, br"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip; q=0.000, *"));  // named and refused: * does not bring it back
  EXPECT_FALSE(accepts_gzip("*;q=0"));
  EXPECT_FALSE(accepts_gzip("gzipx, ,;,;q="));
}

}  // namespace
}  // namespace buildd::http_detail
