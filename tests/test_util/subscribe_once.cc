#include "tests/test_util/subscribe_once.h"

#include <chrono>
#include <memory>

namespace semisync {
namespace test_util {

grpc::Status SubscribeOnce(v1::ReplicationService::Stub* master,
                           const v1::SubscribeBinlogRequest& sub) {
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(10);
  grpc::ClientContext rc;
  rc.set_deadline(deadline);
  v1::RegisterSlaveRequest reg;
  reg.set_slave_id(sub.slave_id());
  v1::RegisterSlaveResponse reg_resp;
  grpc::Status rs = master->RegisterSlave(&rc, reg, &reg_resp);
  if (!rs.ok()) return rs;
  grpc::ClientContext sc;
  sc.set_deadline(deadline);
  std::unique_ptr<grpc::ClientReader<v1::SubscribeBinlogResponse>> stream =
      master->SubscribeBinlog(&sc, sub);
  v1::SubscribeBinlogResponse msg;
  if (stream->Read(&msg)) {
    sc.TryCancel();
    stream->Finish();
    return grpc::Status::OK;
  }
  return stream->Finish();
}

}  // namespace test_util
}  // namespace semisync
