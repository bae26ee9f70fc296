#include "os/linux/netlink_socket.h"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>

namespace carp::os::lnx {
namespace {

constexpr std::size_t kReceiveBufferSize = std::size_t{32} * 1024;
constexpr int kDumpAttempts = 4;  // the first try and three retries

[[noreturn]] void throwSystemError(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

// The extended-ACK text (NLMSGERR_ATTR_MSG) of an NLMSG_ERROR or NLMSG_DONE message, if the
// kernel attached one. tlv_offset: where the TLVs start in the payload.
std::string extendedAckMessage(const nlmsghdr& nlh, std::size_t tlv_offset) {
  if (!(nlh.nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  const std::size_t aligned = MNL_ALIGN(tlv_offset);
  if (mnl_nlmsg_get_payload_len(&nlh) < aligned) return {};
  std::string message;
  mnl_attr_parse(
      &nlh, static_cast<unsigned>(aligned),
      [](const nlattr* attr, void* data) -> int {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
            mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
          *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
        }
        return MNL_CB_OK;
      },
      &message);
  return message;
}

NetlinkError makeError(int code, std::string_view context, const std::string& detail = {}) {
  std::string message(context);
  if (!message.empty()) message += ": ";
  message += errnoText(code);
  if (!detail.empty()) message += " (" + detail + ")";
  return NetlinkError{code, std::move(message)};
}

}  // namespace

std::string errnoText(int code) {
  char buffer[128];
  // GNU strerror_r: returns a pointer to the text, which may or may not be `buffer`.
  return ::strerror_r(code, buffer, sizeof(buffer));
}

NetlinkRequest::NetlinkRequest(std::uint16_t type, std::uint16_t flags)
    : nlh_(mnl_nlmsg_put_header(buffer_.data())) {
  nlh_->nlmsg_type = type;
  nlh_->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
}

NetlinkSocket::NetlinkSocket(bool nonblocking)
    : socket_(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0))),
      receive_buffer_(kReceiveBufferSize) {
  if (!socket_) throwSystemError("netlink socket");
  if (mnl_socket_bind(socket_.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    throwSystemError("netlink bind");
  }
  port_id_ = mnl_socket_get_portid(socket_.get());
  // Error messages from the kernel ("Unknown device type") are worth more than errno alone;
  // CAP_ACK keeps the ACK small by not echoing our request. Both are best effort.
  int on = 1;
  mnl_socket_setsockopt(socket_.get(), NETLINK_EXT_ACK, &on, sizeof(on));
  mnl_socket_setsockopt(socket_.get(), NETLINK_CAP_ACK, &on, sizeof(on));
  if (!nonblocking) {
    // The kernel always answers; the timeout only keeps a kernel bug from hanging carpd.
    const timeval timeout{.tv_sec = 5, .tv_usec = 0};
    if (setsockopt(fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0) {
      throwSystemError("netlink SO_RCVTIMEO");
    }
  }
}

int NetlinkSocket::fd() const noexcept { return mnl_socket_get_fd(socket_.get()); }

std::uint32_t NetlinkSocket::portId() const noexcept { return port_id_; }

void NetlinkSocket::joinGroup(unsigned group) {
  if (mnl_socket_setsockopt(socket_.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
    throwSystemError("netlink add membership");
  }
}

bool NetlinkSocket::enableStrictChecks() noexcept {
  int on = 1;
  return mnl_socket_setsockopt(socket_.get(), NETLINK_GET_STRICT_CHK, &on, sizeof(on)) == 0;
}

void NetlinkSocket::setReceiveBuffer(int bytes) {
  if (setsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) < 0) {
    throwSystemError("netlink SO_RCVBUF");
  }
}

tl::expected<std::size_t, int> NetlinkSocket::receive(std::span<std::byte> buffer) noexcept {
  sockaddr_nl sender{};
  iovec iov{.iov_base = buffer.data(), .iov_len = buffer.size()};
  msghdr msg{};
  msg.msg_name = &sender;
  msg.msg_namelen = sizeof(sender);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const ssize_t n = ::recvmsg(fd(), &msg, 0);
  if (n < 0) return tl::unexpected(errno);
  if (msg.msg_flags & MSG_TRUNC) return tl::unexpected(ENOSPC);
  // Only the kernel speaks for rtnetlink; anything from another socket is ignored.
  if (msg.msg_namelen != sizeof(sender) || sender.nl_pid != 0) return std::size_t{0};
  return static_cast<std::size_t>(n);
}

tl::expected<void, NetlinkError> NetlinkSocket::transact(NetlinkRequest& request,
                                                         const MessageCallback& on_message,
                                                         bool& interrupted) {
  nlmsghdr* const out = request.header();
  if (++sequence_ == 0) ++sequence_;
  const std::uint32_t sequence = sequence_;
  out->nlmsg_seq = sequence;
  out->nlmsg_pid = 0;
  interrupted = false;
  if (mnl_socket_sendto(socket_.get(), out, out->nlmsg_len) < 0) {
    return tl::unexpected(makeError(errno, "netlink send"));
  }

  bool deliver = static_cast<bool>(on_message);
  for (;;) {
    auto received = receive(receive_buffer_);
    if (!received) {
      if (received.error() == EINTR) continue;
      const int code = received.error() == EAGAIN ? ETIMEDOUT : received.error();
      return tl::unexpected(makeError(code, "netlink receive"));
    }
    int remaining = static_cast<int>(*received);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(receive_buffer_.data());
         mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
      // An answer to an earlier request that gave up (timeout, callback error): skip it.
      if (nlh->nlmsg_seq != sequence) continue;
      if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      switch (nlh->nlmsg_type) {
        case NLMSG_NOOP:
        case NLMSG_OVERRUN:
          continue;
        case NLMSG_ERROR: {
          if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
            return tl::unexpected(makeError(EBADMSG, "netlink ack"));
          }
          const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
          if (error->error == 0) return {};
          std::size_t tlv_offset = sizeof(nlmsgerr);
          if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
            tlv_offset += error->msg.nlmsg_len - sizeof(nlmsghdr);
          }
          return tl::unexpected(makeError(-error->error, "", extendedAckMessage(*nlh, tlv_offset)));
        }
        case NLMSG_DONE: {
          // A dump that failed part-way ends with NLMSG_DONE carrying the negative errno.
          if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
            int status = 0;
            std::memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof(status));
            if (status < 0) {
              return tl::unexpected(makeError(-status, "", extendedAckMessage(*nlh, sizeof(int))));
            }
          }
          return {};
        }
        default:
          if (deliver) deliver = on_message(*nlh);
      }
    }
  }
}

tl::expected<void, NetlinkError> NetlinkSocket::request(NetlinkRequest& request,
                                                        const MessageCallback& on_message) {
  request.header()->nlmsg_flags |= NLM_F_ACK;
  bool interrupted = false;
  return transact(request, on_message, interrupted);
}

tl::expected<void, NetlinkError> NetlinkSocket::dump(NetlinkRequest& request,
                                                     const MessageCallback& on_message,
                                                     const std::function<void()>& on_restart) {
  request.header()->nlmsg_flags |= NLM_F_DUMP;
  for (int attempt = 1;; ++attempt) {
    bool interrupted = false;
    auto result = transact(request, on_message, interrupted);
    if (!result || !interrupted) return result;
    if (attempt == kDumpAttempts) {
      return tl::unexpected(makeError(EINTR, "netlink dump kept changing"));
    }
    if (on_restart) on_restart();
  }
}

}  // namespace carp::os::lnx
