// SlaveServiceImpl: the semisync.v1.SlaveService gRPC handlers (START SLAVE, STOP SLAVE,
// SHOW SLAVE STATUS) over a Slave.
//
// Thread-safety: handlers run concurrently on gRPC's threads; Slave is thread-safe. The Slave
// outlives the service.
#ifndef SEMISYNC_SERVER_SLAVE_SLAVE_SERVICE_H_
#define SEMISYNC_SERVER_SLAVE_SLAVE_SERVICE_H_

#include "semisync/v1/slave.grpc.pb.h"
#include "server/slave/slave.h"

namespace semisync {

class SlaveServiceImpl final : public v1::SlaveService::Service {
 public:
  explicit SlaveServiceImpl(Slave* slave) : slave_(slave) {}

  // Both return the status after the change.
  grpc::Status StartSync(grpc::ServerContext* ctx, const v1::StartSyncRequest* req,
                         v1::SyncResponse* resp) override;
  grpc::Status StopSync(grpc::ServerContext* ctx, const v1::StopSyncRequest* req,
                        v1::SyncResponse* resp) override;
  grpc::Status GetStatus(grpc::ServerContext* ctx, const v1::GetSlaveStatusRequest* req,
                         v1::SlaveStatus* resp) override;

 private:
  Slave* const slave_;
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_SLAVE_SLAVE_SERVICE_H_
