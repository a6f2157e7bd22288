#include "common/posix_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace semisync {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(PosixFileTest, WriteFileDurablyReplacesContentAndLeavesNoTempFile) {
  const fs::path dir = fs::path(::testing::TempDir()) / absl::StrCat("posix_file_", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "value").string();
  ASSERT_TRUE(WriteFileDurably(path, "first\n").ok());
  EXPECT_EQ(ReadAll(path), "first\n");
  ASSERT_TRUE(WriteFileDurably(path, "second\n").ok());
  EXPECT_EQ(ReadAll(path), "second\n");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  fs::remove_all(dir);
}

TEST(PosixFileTest, WriteFileDurablyInMissingDirectoryIsNotFound) {
  absl::Status s = WriteFileDurably("/nonexistent-semisync-dir/value", "x");
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_NE(s.message().find("/nonexistent-semisync-dir/value.tmp"), std::string::npos) << s;
}

}  // namespace
}  // namespace semisync
