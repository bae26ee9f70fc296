#pragma once
// A NETLINK_ROUTE socket (libmnl) for synchronous requests: one request at a time, each with
// its own sequence number, the reply read until the kernel's ACK or NLMSG_DONE.

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace carp::os::lnx {

// A failed netlink request: the errno the kernel (or a syscall) reported and a readable text,
// "strerror: extended-ACK message" when the kernel gave one.
struct NetlinkError {
  int code = 0;
  std::string message;
};

// Room for one request message. Our requests are a header and a few small attributes.
class NetlinkRequest {
 public:
  // Starts a message of `type` with `flags` (NLM_F_REQUEST is added; NetlinkSocket adds
  // NLM_F_ACK or NLM_F_DUMP and the sequence number).
  NetlinkRequest(std::uint16_t type, std::uint16_t flags);
  NetlinkRequest(const NetlinkRequest&) = delete;
  NetlinkRequest& operator=(const NetlinkRequest&) = delete;
  nlmsghdr* header() noexcept { return nlh_; }
  // Appends the zeroed family header (ifinfomsg, ifaddrmsg); call once, before attributes.
  template <typename T>
  T* putExtraHeader() noexcept {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)));
  }
  std::size_t capacity() const noexcept { return buffer_.size(); }

 private:
  alignas(NLMSG_ALIGNTO) std::array<std::byte, 4096> buffer_{};
  nlmsghdr* nlh_;
};

class NetlinkSocket {
 public:
  // Called for every data message of a reply, in order. Returning false stops the callback
  // calls (the rest of the reply is still read and discarded, so the socket stays in step).
  using MessageCallback = std::function<bool(const nlmsghdr&)>;

  // Opens and binds a NETLINK_ROUTE socket. nonblocking: for event-loop use (NetlinkMonitor);
  // request() and dump() need a blocking socket. Throws std::system_error.
  explicit NetlinkSocket(bool nonblocking = false);
  NetlinkSocket(NetlinkSocket&&) noexcept = default;
  NetlinkSocket& operator=(NetlinkSocket&&) noexcept = default;

  int fd() const noexcept;
  std::uint32_t portId() const noexcept;

  // Subscribes to an rtnetlink multicast group (RTNLGRP_*). Throws std::system_error.
  void joinGroup(unsigned group);
  // Sets SO_RCVBUF (the kernel caps it at net.core.rmem_max). Throws std::system_error.
  void setReceiveBuffer(int bytes);
  // NETLINK_GET_STRICT_CHK (Linux 4.20): the kernel then honours filters in dump requests,
  // such as ifa_index in an RTM_GETADDR dump, instead of dumping everything; it also rejects
  // requests with header fields it does not use set. Best effort: false on older kernels,
  // whose callers must filter the dump themselves.
  bool enableStrictChecks() noexcept;

  // Sends a non-dump request with NLM_F_ACK and waits for the ACK. Data messages that come
  // before it (the answer to a single-object RTM_GET*) go to on_message.
  tl::expected<void, NetlinkError> request(NetlinkRequest& request,
                                           const MessageCallback& on_message = {});
  // Sends a dump request (NLM_F_DUMP) and passes every message to on_message until
  // NLMSG_DONE. An interrupted dump (NLM_F_DUMP_INTR: the table changed meanwhile) is retried
  // from the start, up to three times; on_restart is called before each retry so that the
  // caller can drop what it collected.
  tl::expected<void, NetlinkError> dump(NetlinkRequest& request, const MessageCallback& on_message,
                                        const std::function<void()>& on_restart = {});

  // One recvmsg() for event-loop use: returns the bytes received into buffer, or errno
  // (EAGAIN when nothing is pending, ENOBUFS after an overrun, ENOSPC for a truncated
  // datagram). Datagrams whose sender is not the kernel are dropped (returned as size 0).
  tl::expected<std::size_t, int> receive(std::span<std::byte> buffer) noexcept;

 private:
  tl::expected<void, NetlinkError> transact(NetlinkRequest& request,
                                            const MessageCallback& on_message, bool& interrupted);

  struct Closer {
    void operator()(mnl_socket* socket) const noexcept { mnl_socket_close(socket); }
  };
  std::unique_ptr<mnl_socket, Closer> socket_;
  std::uint32_t port_id_ = 0;
  std::uint32_t sequence_ = 0;
  // 32 KiB: recent kernels build dump datagrams up to 32 KiB, and a smaller buffer would
  // truncate them (MSG_TRUNC).
  std::vector<std::byte> receive_buffer_;
};

// "strerror(code)", for messages of callers that build their own errors.
std::string errnoText(int code);

}  // namespace carp::os::lnx
