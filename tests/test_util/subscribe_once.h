// SubscribeOnce: asks a master whether it accepts a slave's subscription, the way a slave
// reconnecting with that request would (tests of SubscribeBinlog's checks of the slave's last
// event, in master_test and the integration tests).
#ifndef SEMISYNC_TESTS_TEST_UTIL_SUBSCRIBE_ONCE_H_
#define SEMISYNC_TESTS_TEST_UTIL_SUBSCRIBE_ONCE_H_

#include "grpcpp/grpcpp.h"
#include "semisync/v1/replication.grpc.pb.h"

namespace semisync {
namespace test_util {

// Registers `sub.slave_id()`, opens SubscribeBinlog with `sub` and waits (10 s at most) for the
// first message. Returns OK if one came (the master accepted the subscription; the stream is then
// cancelled), else the stream's final status (e.g. ABORTED when the master refuses the slave's
// last event), or the registration's error.
grpc::Status SubscribeOnce(v1::ReplicationService::Stub* master,
                           const v1::SubscribeBinlogRequest& sub);

}  // namespace test_util
}  // namespace semisync

#endif  // SEMISYNC_TESTS_TEST_UTIL_SUBSCRIBE_ONCE_H_
