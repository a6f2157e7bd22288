// The gRPC -> HTTP status table and the google.rpc.Status JSON error bodies.
#include "server/gateway/status_mapping.h"

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace semisync {
namespace gateway {
namespace {

using grpc::StatusCode;

TEST(StatusMappingTest, GrpcGatewayTable) {
  const std::pair<StatusCode, int> table[] = {
      {StatusCode::OK, 200},
      {StatusCode::CANCELLED, 499},
      {StatusCode::UNKNOWN, 500},
      {StatusCode::INVALID_ARGUMENT, 400},
      {StatusCode::DEADLINE_EXCEEDED, 504},
      {StatusCode::NOT_FOUND, 404},
      {StatusCode::ALREADY_EXISTS, 409},
      {StatusCode::PERMISSION_DENIED, 403},
      {StatusCode::UNAUTHENTICATED, 401},
      {StatusCode::RESOURCE_EXHAUSTED, 429},
      {StatusCode::FAILED_PRECONDITION, 400},
      {StatusCode::ABORTED, 409},
      {StatusCode::OUT_OF_RANGE, 400},
      {StatusCode::UNIMPLEMENTED, 501},
      {StatusCode::INTERNAL, 500},
      {StatusCode::UNAVAILABLE, 503},
      {StatusCode::DATA_LOSS, 500},
  };
  for (const auto& [code, http] : table) {
    EXPECT_EQ(HttpStatusFromGrpcCode(code), http) << "gRPC code " << code;
  }
  EXPECT_EQ(HttpStatusFromGrpcCode(static_cast<StatusCode>(42)), 500);
}

TEST(StatusMappingTest, CodesForTheGatewaysOwnErrors) {
  EXPECT_EQ(GrpcCodeForGatewayError(400), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GrpcCodeForGatewayError(404), StatusCode::NOT_FOUND);
  EXPECT_EQ(GrpcCodeForGatewayError(405), StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(GrpcCodeForGatewayError(413), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(GrpcCodeForGatewayError(415), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GrpcCodeForGatewayError(503), StatusCode::UNAVAILABLE);
  EXPECT_EQ(GrpcCodeForGatewayError(418), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GrpcCodeForGatewayError(500), StatusCode::INTERNAL);
}

TEST(StatusMappingTest, ErrorBodyIsGoogleRpcStatusJson) {
  EXPECT_EQ(ErrorBodyJson(StatusCode::NOT_FOUND, "record 7 not found"),
            R"({"code":5,"message":"record 7 not found","details":[]})");
  std::string body = ErrorBodyJson(StatusCode::INVALID_ARGUMENT, "bad \"x\"\n\\ \x01 \xff end");
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(body, &parsed).ok()) << body;
  EXPECT_EQ(parsed.fields().at("code").number_value(), 3);
  EXPECT_EQ(parsed.fields().at("message").string_value(), "bad \"x\"\n\\ \x01 \xEF\xBF\xBD end");
  EXPECT_EQ(parsed.fields().at("details").list_value().values_size(), 0);
}

TEST(StatusMappingTest, JsonQuoteEscapesAndKeepsValidUtf8) {
  EXPECT_EQ(JsonQuote(""), R"("")");
  EXPECT_EQ(JsonQuote("a\"b\\c/d"), R"("a\"b\\c/d")");
  EXPECT_EQ(JsonQuote("\t\r\n\b\f"), R"("\t\r\n\b\f")");
  EXPECT_EQ(JsonQuote(std::string("\x00\x1f\x7f", 3)), R"("\u0000\u001f\u007f")");
  EXPECT_EQ(JsonQuote("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  EXPECT_EQ(JsonQuote("\xC3"), "\"\xEF\xBF\xBD\"");  // truncated sequence
  EXPECT_EQ(JsonQuote("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
}

}  // namespace
}  // namespace gateway
}  // namespace semisync
