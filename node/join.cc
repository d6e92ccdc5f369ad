// join_cluster: see join.h.
#include "node/join.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include <zmq.hpp>

#include "wire/client_messages.h"

namespace cabildo::node {

namespace {

Result<wire::MembershipInfo> ask(zmq::context_t& context, const NodeConfig& config,
                                 const Member& at, int timeout_ms) {
    zmq::socket_t req(context, zmq::socket_type::req);
    req.set(zmq::sockopt::linger, 0);
    if (config.security) {  // as a member: the ACL file lists this node's key
        wire::make_curve_client(req, config.security->node_keys,
                                config.security->server_keys.public_key);
    }
    req.connect(at.client_endpoint());
    wire::ClientRequest request;
    request.op = wire::Op::member_list;
    const std::string bytes = wire::encode_request(request);
    req.send(zmq::buffer(bytes), zmq::send_flags::none);
    zmq::pollitem_t items[] = {{req.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(timeout_ms));
    zmq::message_t answer;
    if (!(items[0].revents & ZMQ_POLLIN) || !req.recv(answer, zmq::recv_flags::dontwait)) {
        return Error{Status::unavailable, at.client_endpoint() + " did not answer"};
    }
    auto reply = wire::decode_reply(answer.data(), answer.size());
    if (!reply) return reply.error();
    if (!reply->ok || !reply->membership) {
        return Error{Status::unavailable, at.client_endpoint() + ": " + reply->error + " " +
                                              reply->message};
    }
    return *reply->membership;
}

}  // namespace

Result<bool> join_cluster(NodeConfig& config, int timeout_ms) {
    zmq::context_t context(1);
    std::string errors;
    for (const std::string& address : config.join) {
        auto at = parse_member("1=" + address);
        if (!at) return Error{Status::bad_request, "--join " + address + ": not host:port"};
        auto membership = ask(context, config, *at, timeout_ms);
        if (!membership) {
            errors += "; " + membership.error().detail;
            continue;
        }
        std::vector<Member> members;
        for (const wire::MemberInfo& m : membership->members) {
            auto parsed = parse_member(std::to_string(m.id) + "=" + m.peer);
            if (!parsed) continue;
            parsed->learner = m.learner;
            parsed->uuid = m.uuid;
            members.push_back(*parsed);
        }
        config.members = std::move(members);
        config.joined_cluster = membership->cluster_id;
        if (config.member(config.id) == nullptr) {
            return Error{Status::not_found,
                         "node " + std::to_string(config.id) + " is not a member of the cluster " +
                             address + " belongs to: add it first, e.g. `cabildo member add " +
                             std::to_string(config.id) + " HOST:PORT --learner`"};
        }
        spdlog::info("joining cluster {} through {}: {} members", config.joined_cluster, address,
                     config.members.size());
        return true;
    }
    return Error{Status::unavailable, "no member given with --join answered" + errors};
}

Result<std::string> data_dir_uuid(const std::string& dir) {
    const std::string path = dir + "/node-uuid";
    std::ifstream in(path);
    std::string uuid;
    if (in >> uuid && uuid.size() == 32) return uuid;
    std::random_device device;
    static const char* digits = "0123456789abcdef";
    uuid.clear();
    for (int i = 0; i < 32; ++i) uuid.push_back(digits[device() & 15]);
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const std::string text = uuid + "\n";
    const bool written = fd >= 0 && ::write(fd, text.data(), text.size()) ==
                                        static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
        return Error{Status::io_error, "cannot write " + path};
    }
    return uuid;
}

}  // namespace cabildo::node
