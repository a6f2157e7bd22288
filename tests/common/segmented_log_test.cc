#include "common/segmented_log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semisync {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

#define ASSERT_OK(expr)               \
  do {                                \
    auto _st = (expr);                \
    ASSERT_TRUE(_st.ok()) << _st;     \
  } while (0)

std::string Payload(uint64_t pos) {
  return absl::StrCat("event-", pos, std::string(pos % 37, 'x'));
}

std::vector<LogRecord> Records(uint64_t first, size_t n) {
  std::vector<LogRecord> v;
  for (uint64_t p = first; p < first + n; ++p) v.push_back(LogRecord{p, Payload(p)});
  return v;
}

uint64_t RecordBytes(uint64_t pos) { return log_format::kRecordHeaderSize + Payload(pos).size(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

class SegmentedLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = (fs::path(::testing::TempDir()) /
            absl::StrCat("segmented_log_", info->name(), "_", ::getpid()))
               .string();
    fs::remove_all(dir_);
    options_.dir = dir_;
    options_.prefix = "binlog";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SegmentedLog> Open() {
    auto log = SegmentedLog::Open(options_);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }

  std::string SegmentPath(uint64_t first) const {
    return absl::StrFormat("%s/binlog.%020d", dir_, first);
  }

  // Appends positions [first, first + n), one batch per record, and syncs.
  void AppendOneByOne(SegmentedLog* log, uint64_t first, size_t n) {
    for (uint64_t p = first; p < first + n; ++p) ASSERT_OK(log->Append(Records(p, 1)));
    ASSERT_OK(log->Sync());
  }

  // Reads everything after `after` up to DurablePosition(), checking positions and payloads.
  static absl::StatusOr<uint64_t> ReadAll(const SegmentedLog& log, uint64_t after) {
    auto reader = log.NewReader(after);
    if (!reader.ok()) return reader.status();
    uint64_t expect = after + 1;
    for (;;) {
      std::vector<LogRecord> out;
      absl::Status s = (*reader)->Read(log.DurablePosition(), 7, 1 << 20, &out);
      if (!s.ok()) return s;
      if (out.empty()) break;
      for (const LogRecord& r : out) {
        if (r.position != expect || r.payload != Payload(expect)) {
          return absl::InternalError(absl::StrCat("bad record at ", r.position));
        }
        ++expect;
      }
    }
    return expect - 1;
  }

  std::string dir_;
  LogOptions options_;
};

TEST_F(SegmentedLogTest, AppendSyncReadBack) {
  auto log = Open();
  EXPECT_EQ(log->LastPosition(), 0u);
  EXPECT_EQ(log->OldestPosition(), 0u);
  ASSERT_OK(log->Append(Records(1, 3)));
  std::vector<LogRecord> big = {LogRecord{4, std::string(3 << 20, 'b')}};
  ASSERT_OK(log->Append(big));
  EXPECT_EQ(log->LastPosition(), 4u);
  EXPECT_EQ(log->DurablePosition(), 0u);
  ASSERT_OK(log->Sync());
  EXPECT_EQ(log->DurablePosition(), 4u);
  EXPECT_EQ(log->OldestPosition(), 1u);
  EXPECT_EQ(log->TotalBytes(), log_format::kFileHeaderSize + RecordBytes(1) + RecordBytes(2) +
                                   RecordBytes(3) + log_format::kRecordHeaderSize + (3 << 20));
  ASSERT_EQ(log->Segments().size(), 1u);
  EXPECT_EQ(log->Segments()[0].path, SegmentPath(1));
  EXPECT_EQ(fs::file_size(SegmentPath(1)), log->TotalBytes());

  auto reader = log->NewReader(0);
  ASSERT_OK(reader.status());
  std::vector<LogRecord> out;
  ASSERT_OK((*reader)->Read(log->DurablePosition(), 100, 64 << 20, &out));
  ASSERT_EQ(out.size(), 4u);
  for (uint64_t p = 1; p <= 3; ++p) {
    EXPECT_EQ(out[p - 1].position, p);
    EXPECT_EQ(out[p - 1].payload, Payload(p));
  }
  EXPECT_EQ(out[3].payload, big[0].payload);
  EXPECT_EQ((*reader)->position(), 4u);
  out.clear();
  ASSERT_OK((*reader)->Read(log->DurablePosition(), 100, 64 << 20, &out));
  EXPECT_TRUE(out.empty());
}

TEST_F(SegmentedLogTest, PositionsMustBeConsecutive) {
  auto log = Open();
  EXPECT_TRUE(absl::IsInvalidArgument(log->Append({LogRecord{0, "zero"}})));
  ASSERT_OK(log->Append(Records(1, 3)));
  EXPECT_TRUE(absl::IsInvalidArgument(log->Append(Records(5, 1))));
  EXPECT_TRUE(absl::IsInvalidArgument(log->Append(Records(3, 1))));
  EXPECT_TRUE(absl::IsInvalidArgument(log->Append({LogRecord{4, "a"}, LogRecord{6, "b"}})));
  EXPECT_EQ(log->LastPosition(), 3u);
  std::vector<LogRecord> huge = {LogRecord{4, std::string(log_format::kMaxPayloadSize + 1, 'h')}};
  EXPECT_TRUE(absl::IsInvalidArgument(log->Append(huge)));
  ASSERT_OK(log->Append(Records(4, 2)));  // the log is still usable
  ASSERT_OK(log->Sync());
  auto last = ReadAll(*log, 0);
  ASSERT_OK(last.status());
  EXPECT_EQ(*last, 5u);
}

TEST_F(SegmentedLogTest, RelayLogMayStartAtAnyPosition) {
  {
    auto log = Open();
    ASSERT_OK(log->Append(Records(1000, 5)));
    ASSERT_OK(log->Sync());
    EXPECT_EQ(log->OldestPosition(), 1000u);
    EXPECT_EQ(log->Segments()[0].path, SegmentPath(1000));
    auto last = ReadAll(*log, 999);
    ASSERT_OK(last.status());
    EXPECT_EQ(*last, 1004u);
    EXPECT_TRUE(absl::IsOutOfRange(log->NewReader(5).status()));
  }
  auto log = Open();
  EXPECT_EQ(log->OldestPosition(), 1000u);
  EXPECT_EQ(log->LastPosition(), 1004u);
  EXPECT_TRUE(absl::IsInvalidArgument(log->Append(Records(1, 1))));
}

TEST_F(SegmentedLogTest, RotatesSegments) {
  options_.segment_bytes = 256;
  auto log = Open();
  AppendOneByOne(log.get(), 1, 40);
  ASSERT_OK(log->Append(Records(41, 20)));  // one batch lands in one segment, even if it is big
  ASSERT_OK(log->Sync());
  std::vector<SegmentInfo> segs = log->Segments();
  ASSERT_GT(segs.size(), 3u);
  uint64_t total = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    EXPECT_EQ(segs[i].path, SegmentPath(segs[i].first_position));
    if (i + 1 < segs.size()) {
      EXPECT_EQ(fs::file_size(segs[i].path), segs[i].bytes);  // sealed: no preallocated zeros
    } else {
      EXPECT_GE(fs::file_size(segs[i].path), segs[i].bytes);
    }
    total += segs[i].bytes;
    if (i + 1 < segs.size()) {
      EXPECT_GE(segs[i].bytes, options_.segment_bytes);
      EXPECT_EQ(segs[i].last_position + 1, segs[i + 1].first_position);
    }
  }
  EXPECT_LE(segs.back().first_position, 41u);
  EXPECT_EQ(segs.back().last_position, 60u);
  EXPECT_EQ(total, log->TotalBytes());
}

// AppendIsWriteOnly: false exactly when the append would create or rotate a segment, or extend
// the preallocated space.
TEST_F(SegmentedLogTest, AppendIsWriteOnlyUnlessItRotatesOrPreallocates) {
  options_.segment_bytes = 256;
  options_.preallocate_bytes = 4096;
  auto log = Open();
  EXPECT_FALSE(log->AppendIsWriteOnly(1, 10)) << "the first append creates the segment";
  ASSERT_OK(log->Append(Records(1, 1)));
  EXPECT_TRUE(log->AppendIsWriteOnly(1, 10));
  EXPECT_FALSE(log->AppendIsWriteOnly(1, 8192)) << "past the preallocated zeros";
  uint64_t next = 2;
  while (log->Segments().back().bytes < options_.segment_bytes) {
    ASSERT_OK(log->Append(Records(next++, 1)));
  }
  ASSERT_EQ(log->Segments().size(), 1u);
  EXPECT_FALSE(log->AppendIsWriteOnly(1, 10)) << "the active segment is full: rotates";
  ASSERT_OK(log->Append(Records(next++, 1)));
  ASSERT_EQ(log->Segments().size(), 2u);
  EXPECT_TRUE(log->AppendIsWriteOnly(1, 10));
  ASSERT_OK(log->Sync());
  EXPECT_EQ(*ReadAll(*log, 0), next - 1);
}

TEST_F(SegmentedLogTest, TruncateAfterDropsTheTailWithinAndAcrossSegments) {
  options_.segment_bytes = 256;
  auto log = Open();
  AppendOneByOne(log.get(), 1, 40);
  const std::vector<SegmentInfo> before = log->Segments();
  ASSERT_GT(before.size(), 3u);

  // Within the active segment: the dropped positions can be written again, with other data.
  ASSERT_OK(log->TruncateAfter(38));
  EXPECT_EQ(log->LastPosition(), 38u);
  EXPECT_EQ(log->DurablePosition(), 38u);
  ASSERT_OK(log->Append({LogRecord{39, "replaced-39"}}));
  ASSERT_OK(log->Sync());
  {
    auto reader = log->NewReader(37);
    ASSERT_OK(reader.status());
    std::vector<LogRecord> out;
    ASSERT_OK((*reader)->Read(log->DurablePosition(), 10, 1 << 20, &out));
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].payload, Payload(38));
    EXPECT_EQ(out[1].payload, "replaced-39");
  }

  // Into a sealed segment: the later segments go, the sealed one is active again.
  const uint64_t cut = before[1].first_position + 1;
  ASSERT_OK(log->TruncateAfter(cut));
  std::vector<SegmentInfo> segs = log->Segments();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs.back().last_position, cut);
  EXPECT_FALSE(fs::exists(before[2].path));
  EXPECT_EQ(fs::file_size(segs.back().path), segs.back().bytes);
  EXPECT_EQ(segs[0].bytes + segs[1].bytes, log->TotalBytes());
  AppendOneByOne(log.get(), cut + 1, 30);
  EXPECT_EQ(ReadAll(*log, 0).value_or(0), cut + 30);

  // Durable across a reopen.
  log.reset();
  log = Open();
  EXPECT_EQ(log->LastPosition(), cut + 30);
  EXPECT_EQ(ReadAll(*log, 0).value_or(0), cut + 30);

  // Before the first record: the log is empty and starts again anywhere.
  ASSERT_OK(log->TruncateAfter(0));
  EXPECT_EQ(log->LastPosition(), 0u);
  EXPECT_TRUE(log->Segments().empty());
  EXPECT_EQ(log->TotalBytes(), 0u);
  AppendOneByOne(log.get(), 1, 5);
  EXPECT_EQ(ReadAll(*log, 0).value_or(0), 5u);

  // No-op at or past the end.
  ASSERT_OK(log->TruncateAfter(5));
  ASSERT_OK(log->TruncateAfter(9));
  EXPECT_EQ(log->LastPosition(), 5u);
}

TEST_F(SegmentedLogTest, TruncateAfterAPurgedPositionIsRefused) {
  options_.segment_bytes = 256;
  auto log = Open();
  AppendOneByOne(log.get(), 1, 40);
  ASSERT_OK(log->PurgeBefore(20).status());
  const uint64_t oldest = log->OldestPosition();
  ASSERT_GT(oldest, 2u);
  absl::Status s = log->TruncateAfter(oldest - 2);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("purged"));
  EXPECT_EQ(log->LastPosition(), 40u);
  ASSERT_OK(log->TruncateAfter(oldest - 1));  // just before the oldest: allowed, log empty
  EXPECT_EQ(log->LastPosition(), 0u);
}

TEST_F(SegmentedLogTest, ActiveSegmentIsPreallocatedAndTheZerosAreCutOff) {
  std::string crash_image;
  {
    auto log = Open();
    AppendOneByOne(log.get(), 1, 5);
    const uint64_t logical = log->Segments().back().bytes;
    EXPECT_EQ(fs::file_size(SegmentPath(1)),
              log_format::kFileHeaderSize + options_.preallocate_bytes);
    EXPECT_LT(logical, options_.preallocate_bytes);
    crash_image = ReadFile(SegmentPath(1));  // what a crash leaves: records, then zeros
  }
  const uint64_t logical = fs::file_size(SegmentPath(1));  // a clean close cuts the zeros off
  uint64_t expected = log_format::kFileHeaderSize;
  for (uint64_t p = 1; p <= 5; ++p) expected += RecordBytes(p);
  EXPECT_EQ(logical, expected);
  WriteFile(SegmentPath(1), crash_image);
  auto log = Open();
  EXPECT_EQ(log->LastPosition(), 5u);
  EXPECT_EQ(fs::file_size(SegmentPath(1)), logical);
  AppendOneByOne(log.get(), 6, 3);
  auto last = ReadAll(*log, 0);
  ASSERT_OK(last.status());
  EXPECT_EQ(*last, 8u);
}

TEST_F(SegmentedLogTest, ReaderSeesRecordsWrittenIntoPreallocatedZeros) {
  auto log = Open();
  AppendOneByOne(log.get(), 1, 1);
  auto reader = log->NewReader(0);
  ASSERT_OK(reader.status());
  std::vector<LogRecord> out;
  // The reader has seen the zeros after record 1 (the file is preallocated); each record
  // written over them later must be read as a record, not as a torn or corrupt one.
  for (uint64_t p = 1; p <= 50; ++p) {
    if (p > 1) AppendOneByOne(log.get(), p, 1);
    ASSERT_OK((*reader)->Read(log->DurablePosition(), 100, 1 << 20, &out));
    ASSERT_EQ(out.size(), p);
    EXPECT_EQ(out.back().position, p);
  }
}

TEST_F(SegmentedLogTest, ReopenContinuesPositions) {
  options_.segment_bytes = 300;
  std::vector<SegmentInfo> before;
  {
    auto log = Open();
    AppendOneByOne(log.get(), 1, 30);
    before = log->Segments();
  }
  auto log = Open();
  EXPECT_EQ(log->LastPosition(), 30u);
  EXPECT_EQ(log->DurablePosition(), 30u);
  EXPECT_EQ(log->OldestPosition(), 1u);
  std::vector<SegmentInfo> after = log->Segments();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].first_position, before[i].first_position);
    EXPECT_EQ(after[i].last_position, before[i].last_position);
    EXPECT_EQ(after[i].bytes, before[i].bytes);
  }
  AppendOneByOne(log.get(), 31, 10);
  auto last = ReadAll(*log, 0);
  ASSERT_OK(last.status());
  EXPECT_EQ(*last, 40u);
}

TEST_F(SegmentedLogTest, TruncatedTrailingRecordIsTruncated) {
  {
    auto log = Open();
    AppendOneByOne(log.get(), 1, 3);
  }
  const uint64_t good = log_format::kFileHeaderSize + RecordBytes(1) + RecordBytes(2);
  fs::resize_file(SegmentPath(1), fs::file_size(SegmentPath(1)) - 3);
  auto log = Open();
  EXPECT_EQ(log->LastPosition(), 2u);
  EXPECT_EQ(fs::file_size(SegmentPath(1)), good);
  AppendOneByOne(log.get(), 3, 2);
  auto last = ReadAll(*log, 0);
  ASSERT_OK(last.status());
  EXPECT_EQ(*last, 4u);
}

TEST_F(SegmentedLogTest, TornHeaderAtTailIsTruncated) {
  {
    auto log = Open();
    AppendOneByOne(log.get(), 1, 3);
  }
  const uint64_t size = fs::file_size(SegmentPath(1));
  std::ofstream(SegmentPath(1), std::ios::binary | std::ios::app) << std::string(7, '\xab');
  auto log = Open();
  EXPECT_EQ(log->LastPosition(), 3u);
  EXPECT_EQ(fs::file_size(SegmentPath(1)), size);
}

TEST_F(SegmentedLogTest, ZeroFilledTailIsTruncated) {
  {
    auto log = Open();
    AppendOneByOne(log.get(), 1, 3);
  }
  const uint64_t size = fs::file_size(SegmentPath(1));
  std::ofstream(SegmentPath(1), std::ios::binary | std::ios::app) << std::string(4096, '\0');
  {
    auto log = Open();
    EXPECT_EQ(log->LastPosition(), 3u);
    EXPECT_EQ(fs::file_size(SegmentPath(1)), size);
  }
  // The end of the last record never reached the disk either: zeros from inside it onwards.
  std::string data = ReadFile(SegmentPath(1));
  data.replace(data.size() - 4, 4, std::string(4, '\0'));
  WriteFile(SegmentPath(1), data + std::string(100, '\0'));
  auto log = Open();
  EXPECT_EQ(log->LastPosition(), 2u);
  EXPECT_EQ(fs::file_size(SegmentPath(1)), size - RecordBytes(3));
}

TEST_F(SegmentedLogTest, CorruptRecordInTheMiddleIsRefused) {
  {
    auto log = Open();
    AppendOneByOne(log.get(), 1, 3);
  }
  std::string data = ReadFile(SegmentPath(1));
  const uint64_t second = log_format::kFileHeaderSize + RecordBytes(1);
  data[second + log_format::kRecordHeaderSize + 2] ^= 0x01;  // a payload byte of record 2
  WriteFile(SegmentPath(1), data);
  auto log = SegmentedLog::Open(options_);
  ASSERT_TRUE(absl::IsDataLoss(log.status())) << log.status();
  EXPECT_THAT(log.status().message(), HasSubstr(SegmentPath(1)));
  EXPECT_THAT(log.status().message(), HasSubstr(absl::StrCat("offset ", second)));
  EXPECT_EQ(ReadFile(SegmentPath(1)), data);  // nothing was truncated
}

TEST_F(SegmentedLogTest, TornOrEmptyLastSegmentIsRemoved) {
  options_.segment_bytes = 100;
  {
    auto log = Open();
    AppendOneByOne(log.get(), 1, 10);
  }
  const std::vector<SegmentInfo> segs = Open()->Segments();
  ASSERT_GE(segs.size(), 2u);
  const std::string last = segs.back().path;
  fs::resize_file(last, log_format::kFileHeaderSize);  // header only: no record
  {
    auto log = Open();
    EXPECT_FALSE(fs::exists(last));
    EXPECT_EQ(log->LastPosition(), segs.back().first_position - 1);
    // The next append recreates the same segment.
    AppendOneByOne(log.get(), segs.back().first_position, 1);
    EXPECT_EQ(log->Segments().back().path, last);
  }
  fs::resize_file(last, 9);  // torn file header
  auto log = Open();
  EXPECT_FALSE(fs::exists(last));
  EXPECT_EQ(log->LastPosition(), segs.back().first_position - 1);
}

TEST_F(SegmentedLogTest, ChecksumMismatchFoundByReader) {
  options_.segment_bytes = 200;
  {
    auto log = Open();
    AppendOneByOne(log.get(), 1, 20);
    ASSERT_GE(log->Segments().size(), 2u);
  }
  // Only the last segment is scanned on Open; readers check every record they return.
  std::string data = ReadFile(SegmentPath(1));
  const uint64_t second = log_format::kFileHeaderSize + RecordBytes(1);
  data[second + log_format::kRecordHeaderSize] ^= 0x40;
  WriteFile(SegmentPath(1), data);
  auto log = Open();
  auto reader = log->NewReader(0);
  ASSERT_OK(reader.status());
  std::vector<LogRecord> out;
  ASSERT_OK((*reader)->Read(log->DurablePosition(), 100, 1 << 20, &out));  // record 1 is fine
  ASSERT_EQ(out.size(), 1u);
  absl::Status s = (*reader)->Read(log->DurablePosition(), 100, 1 << 20, &out);
  ASSERT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr(SegmentPath(1)));
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("offset ", second)));
  EXPECT_EQ((*reader)->position(), 1u);
}

TEST_F(SegmentedLogTest, MissingMiddleSegmentIsDataLossForReaders) {
  options_.segment_bytes = 200;
  {
    auto log = Open();
    AppendOneByOne(log.get(), 1, 30);
    ASSERT_GE(log->Segments().size(), 3u);
    fs::remove(log->Segments()[1].path);
  }
  auto log = Open();
  auto last = ReadAll(*log, 0);
  ASSERT_TRUE(absl::IsDataLoss(last.status())) << last.status();
  EXPECT_THAT(last.status().message(), HasSubstr("next segment starts at"));
}

TEST_F(SegmentedLogTest, ReaderStopsAtLimit) {
  auto log = Open();
  AppendOneByOne(log.get(), 1, 10);
  auto reader = log->NewReader(0);
  ASSERT_OK(reader.status());
  std::vector<LogRecord> out;
  ASSERT_OK((*reader)->Read(5, 100, 1 << 20, &out));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out.back().position, 5u);
  ASSERT_OK((*reader)->Read(5, 100, 1 << 20, &out));
  EXPECT_EQ(out.size(), 5u);  // unchanged when caught up with the limit
  ASSERT_OK((*reader)->Read(10, 2, 1 << 20, &out));  // max_records
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out.back().position, 7u);
  ASSERT_OK((*reader)->Read(10, 100, 1, &out));  // max_bytes: at least one record
  ASSERT_EQ(out.size(), 8u);
  ASSERT_OK((*reader)->Read(10, 100, 1 << 20, &out));
  ASSERT_EQ(out.size(), 10u);
  EXPECT_EQ((*reader)->position(), 10u);
  // Appended but not durable: a reader given DurablePosition() does not see it.
  ASSERT_OK(log->Append(Records(11, 1)));
  ASSERT_OK((*reader)->Read(log->DurablePosition(), 100, 1 << 20, &out));
  EXPECT_EQ(out.size(), 10u);
}

TEST_F(SegmentedLogTest, ReaderFollowsSegments) {
  options_.segment_bytes = 150;
  auto log = Open();
  AppendOneByOne(log.get(), 1, 50);
  ASSERT_GE(log->Segments().size(), 5u);
  for (uint64_t after = 0; after <= 50; ++after) {
    auto last = ReadAll(*log, after);
    ASSERT_OK(last.status());
    EXPECT_EQ(*last, 50u);
  }
  // A reader past the end waits at the frontier and picks up new segments.
  auto reader = log->NewReader(50);
  ASSERT_OK(reader.status());
  std::vector<LogRecord> out;
  ASSERT_OK((*reader)->Read(log->DurablePosition(), 100, 1 << 20, &out));
  EXPECT_TRUE(out.empty());
  AppendOneByOne(log.get(), 51, 20);
  ASSERT_OK((*reader)->Read(log->DurablePosition(), 100, 1 << 20, &out));
  ASSERT_EQ(out.size(), 20u);
  EXPECT_EQ(out.back().position, 70u);
}

TEST_F(SegmentedLogTest, ReaderOnPurgedPositionIsOutOfRange) {
  options_.segment_bytes = 200;
  auto log = Open();
  AppendOneByOne(log.get(), 1, 40);
  std::vector<SegmentInfo> segs = log->Segments();
  ASSERT_GE(segs.size(), 4u);
  auto old_reader = log->NewReader(0);
  ASSERT_OK(old_reader.status());
  std::vector<LogRecord> out;
  ASSERT_OK((*old_reader)->Read(log->DurablePosition(), 1, 1 << 20, &out));  // opens segment 1

  auto due = log->PurgeBefore(segs[2].first_position, /*dry_run=*/true);
  ASSERT_OK(due.status());
  EXPECT_EQ(*due, 2);
  EXPECT_EQ(log->Segments().size(), segs.size());  // a dry run deletes nothing
  EXPECT_TRUE(fs::exists(segs[0].path));
  auto purged = log->PurgeBefore(segs[2].first_position);
  ASSERT_OK(purged.status());
  EXPECT_EQ(*purged, 2);
  const std::string oldest = absl::StrCat("oldest available position is ", segs[2].first_position);
  auto reader = log->NewReader(0);
  ASSERT_TRUE(absl::IsOutOfRange(reader.status()));
  EXPECT_THAT(reader.status().message(), HasSubstr(oldest));
  ASSERT_OK(log->NewReader(segs[2].first_position - 1).status());

  // The old reader finishes the segment it has open, then finds the next one gone.
  out.clear();
  ASSERT_OK((*old_reader)->Read(log->DurablePosition(), 1000, 1 << 20, &out));
  EXPECT_EQ((*old_reader)->position(), segs[0].last_position);
  absl::Status s = (*old_reader)->Read(log->DurablePosition(), 1000, 1 << 20, &out);
  ASSERT_TRUE(absl::IsOutOfRange(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr(oldest));
}

TEST_F(SegmentedLogTest, PurgeBeforeKeepsActiveSegment) {
  options_.segment_bytes = 200;
  auto log = Open();
  AppendOneByOne(log.get(), 1, 40);
  std::vector<SegmentInfo> segs = log->Segments();
  ASSERT_GE(segs.size(), 3u);
  auto n = log->PurgeBefore(segs[1].last_position);  // segment 1 has a position >= keep_from
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, 1);
  EXPECT_FALSE(fs::exists(segs[0].path));
  EXPECT_TRUE(fs::exists(segs[1].path));
  n = log->PurgeBefore(UINT64_MAX);
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, static_cast<int>(segs.size()) - 2);
  ASSERT_EQ(log->Segments().size(), 1u);
  EXPECT_TRUE(fs::exists(segs.back().path));
  EXPECT_EQ(log->OldestPosition(), segs.back().first_position);
  EXPECT_EQ(log->LastPosition(), 40u);
  EXPECT_EQ(log->TotalBytes(), segs.back().bytes);
  AppendOneByOne(log.get(), 41, 5);
  auto last = ReadAll(*log, segs.back().first_position - 1);
  ASSERT_OK(last.status());
  EXPECT_EQ(*last, 45u);
  log.reset();
  log = Open();
  EXPECT_EQ(log->OldestPosition(), segs.back().first_position);
  EXPECT_EQ(log->LastPosition(), 45u);
}

TEST_F(SegmentedLogTest, PurgeByRetentionBytesAndAge) {
  options_.segment_bytes = 200;
  {
    auto log = Open();
    AppendOneByOne(log.get(), 1, 60);
  }
  auto log = Open();
  std::vector<SegmentInfo> segs = log->Segments();
  ASSERT_GE(segs.size(), 5u);
  // Size: just over the limit deletes the oldest segment only.
  auto n = log->PurgeByRetention(log->TotalBytes() - 1, absl::ZeroDuration(), UINT64_MAX);
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, 1);
  // A tiny limit is held back by must_keep_from.
  n = log->PurgeByRetention(1, absl::ZeroDuration(), segs[2].last_position);
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(log->OldestPosition(), segs[2].first_position);
  // No limits: nothing to do.
  n = log->PurgeByRetention(0, absl::ZeroDuration(), UINT64_MAX);
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, 0);
  // Age: two segments last written two hours ago.
  for (size_t i : {2, 3}) {
    fs::last_write_time(segs[i].path, fs::file_time_type::clock::now() - std::chrono::hours(2));
  }
  log.reset();
  log = Open();
  n = log->PurgeByRetention(0, absl::Hours(1), UINT64_MAX);
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(log->OldestPosition(), segs[4].first_position);
  EXPECT_EQ(log->Segments().size(), segs.size() - 4);
}

TEST_F(SegmentedLogTest, ConcurrentReaderAndWriter) {
  options_.segment_bytes = 2048;
  auto log = Open();
  constexpr uint64_t kTotal = 1000;
  absl::Mutex mu;
  uint64_t published = 0;  // durable position announced by the writer
  bool writer_done = false;
  std::thread writer([&] {
    [&] {
      for (uint64_t next = 1; next <= kTotal;) {
        const uint64_t n = std::min<uint64_t>(1 + next % 7, kTotal - next + 1);
        ASSERT_OK(log->Append(Records(next, n)));
        ASSERT_OK(log->Sync());
        next += n;
        absl::MutexLock l(&mu);
        published = log->DurablePosition();
      }
    }();
    absl::MutexLock l(&mu);
    writer_done = true;
  });
  auto reader = log->NewReader(0);
  ASSERT_OK(reader.status());
  uint64_t expect = 1;
  while (expect <= kTotal) {
    {
      auto more = [&] { return published >= expect || writer_done; };
      absl::MutexLock l(&mu, absl::Condition(&more));
      if (published < expect) break;  // the writer failed
    }
    std::vector<LogRecord> out;
    absl::Status s = (*reader)->Read(log->DurablePosition(), 50, 1 << 20, &out);
    ASSERT_TRUE(s.ok()) << s;
    for (const LogRecord& r : out) {
      ASSERT_EQ(r.position, expect);
      ASSERT_EQ(r.payload, Payload(expect));
      ++expect;
    }
  }
  writer.join();
  EXPECT_EQ(expect, kTotal + 1);
  EXPECT_GT(log->Segments().size(), 3u);
}

// Group commit: one thread appends (rotating segments) while another fsyncs; every Sync covers
// what was appended before it began, and after a reopen everything durable is there.
TEST_F(SegmentedLogTest, SyncRunsConcurrentlyWithAppend) {
  options_.segment_bytes = 1024;
  auto log = Open();
  constexpr uint64_t kTotal = 600;
  std::atomic<bool> done{false};
  std::atomic<bool> sync_failed{false};
  std::thread syncer([&] {
    while (!done.load()) {
      uint64_t before = log->LastPosition();
      if (!log->Sync().ok()) {
        sync_failed = true;
        return;
      }
      if (log->DurablePosition() < before) {
        sync_failed = true;
        return;
      }
    }
  });
  for (uint64_t next = 1; next <= kTotal;) {
    const uint64_t n = std::min<uint64_t>(1 + next % 5, kTotal - next + 1);
    ASSERT_OK(log->Append(Records(next, n)));
    next += n;
  }
  done = true;
  syncer.join();
  EXPECT_FALSE(sync_failed.load());
  ASSERT_OK(log->Sync());
  EXPECT_EQ(log->DurablePosition(), kTotal);
  EXPECT_GT(log->Segments().size(), 3u);
  log.reset();
  auto reopened = Open();
  EXPECT_EQ(reopened->LastPosition(), kTotal);
  auto reader = reopened->NewReader(0);
  ASSERT_OK(reader.status());
  std::vector<LogRecord> out;
  while (out.size() < kTotal) {
    size_t before = out.size();
    ASSERT_OK((*reader)->Read(kTotal, 1000, 1 << 20, &out));
    ASSERT_GT(out.size(), before);
  }
  for (uint64_t i = 0; i < kTotal; ++i) ASSERT_EQ(out[i].payload, Payload(i + 1));
}

TEST_F(SegmentedLogTest, StickyErrorAfterFailure) {
  options_.segment_bytes = 1;  // every append starts a segment
  auto log = Open();
  AppendOneByOne(log.get(), 1, 2);
  fs::remove_all(dir_);  // creating the next segment fails
  absl::Status first = log->Append(Records(3, 1));
  ASSERT_FALSE(first.ok());
  fs::create_directories(dir_);  // the environment recovers; the log does not
  EXPECT_EQ(log->Append(Records(3, 1)), first);
  EXPECT_EQ(log->Sync(), first);
  EXPECT_EQ(log->LastPosition(), 2u);
}

}  // namespace
}  // namespace semisync
