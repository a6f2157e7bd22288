#include "common/crc32c.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace semisync::crc32c {
namespace {

TEST(Crc32cTest, StandardCheckValue) {
  EXPECT_EQ(Value("123456789", 9), 0xE3069283u);
  EXPECT_EQ(internal::ExtendPortable(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32cTest, KnownVectorsFromRfc3720) {
  std::string buf(32, '\0');
  EXPECT_EQ(Value(buf.data(), buf.size()), 0x8A9136AAu);
  buf.assign(32, '\xff');
  EXPECT_EQ(Value(buf.data(), buf.size()), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(i);
  EXPECT_EQ(Value(buf.data(), buf.size()), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(Value(buf.data(), buf.size()), 0x113FDB5Cu);
}

TEST(Crc32cTest, EmptyInput) {
  EXPECT_EQ(Value("", 0), 0u);
  EXPECT_EQ(Extend(0x12345678u, "", 0), 0x12345678u);
}

TEST(Crc32cTest, ExtendComposes) {
  const std::string s = "hello world, this is a string longer than a few words";
  for (size_t split = 0; split <= s.size(); ++split) {
    EXPECT_EQ(Extend(Value(s.data(), split), s.data() + split, s.size() - split),
              Value(s.data(), s.size()))
        << "split at " << split;
  }
}

TEST(Crc32cTest, HardwareAndPortableAgreeOnRandomData) {
  if (!internal::HardwareAvailable()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::mt19937_64 rng(42);
  std::string buf(70000, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (int i = 0; i < 500; ++i) {
    size_t off = rng() % 64;  // unaligned starts
    size_t n = rng() % (i < 400 ? 100 : buf.size() - off);
    uint32_t seed = static_cast<uint32_t>(rng());
    ASSERT_EQ(internal::ExtendHardware(seed, buf.data() + off, n),
              internal::ExtendPortable(seed, buf.data() + off, n))
        << "off=" << off << " n=" << n;
  }
}

TEST(Crc32cTest, MaskChangesValueAndUnmaskRestoresIt) {
  const uint32_t crc = Value("foo", 3);
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
  std::mt19937 rng(7);
  for (int i = 0; i < 1000; ++i) {
    uint32_t v = rng();
    ASSERT_EQ(Unmask(Mask(v)), v);
  }
}

}  // namespace
}  // namespace semisync::crc32c
