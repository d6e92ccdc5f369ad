// The member and transfer-leader commands; see member_command.h.
#include "client/member_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <memory>

#include "client/cli_commands.h"
#include "client/json_writer.h"

namespace cabildo::client {

namespace {

struct MemberArguments {
    std::uint64_t id = 0;
    std::string peer;
    bool learner = false;
};

std::string members_json(const wire::MembershipInfo& membership) {
    std::vector<std::string> members;
    for (const wire::MemberInfo& m : membership.members) {
        JsonObject object;
        object.add_uint("id", m.id)
            .add_bool("learner", m.learner)
            .add_text("peer", m.peer)
            .add_text("client_endpoint", m.client_endpoint)
            .add_uint("match_index", m.match_index);
        members.push_back(object.str());
    }
    return json_array(members);
}

void print_membership(const CliOutput& output, const wire::ClientReply& reply) {
    const wire::MembershipInfo& m = *reply.membership;
    if (output.json) {
        JsonObject object;
        object.add_bool("ok", true)
            .add_uint("revision", reply.revision)
            .add_uint("index", m.index)
            .add_bool("pending", m.pending)
            .add_uint("cluster_id", m.cluster_id)
            .add_text("leader", reply.leader.value_or(""))
            .add_json("members", members_json(m));
        std::fprintf(output.out, "%s\n", object.str().c_str());
        return;
    }
    std::fprintf(output.out, "membership at index %llu%s, cluster %llu\n",
                 static_cast<unsigned long long>(m.index), m.pending ? " (pending)" : "",
                 static_cast<unsigned long long>(m.cluster_id));
    for (const wire::MemberInfo& member : m.members) {
        std::fprintf(output.out, "%s\n",
                     fmt::format("{:<4}  {:<7}  {:<21}  {:<26}  {}", member.id,
                                 member.learner ? "learner" : "voter", member.peer,
                                 member.client_endpoint, member.match_index)
                         .c_str());
    }
}

int run_request(const CliCommon& common, wire::ClientRequest request) {
    Client client(options_for(common));
    const CliOutput output{stdout, stderr, common.json};
    // A read's retry rules (no session): a change that timed out may have
    // been made; `member list` tells.
    auto reply = client.membership(std::move(request));
    if (!reply) return report_error(output, reply.error());
    if (!reply->membership) {
        return report_error(output, Error{Status::io_error, "the reply has no membership"});
    }
    print_membership(output, *reply);
    return exit_ok;
}

wire::ClientRequest member_request(wire::Op op, const MemberArguments& args) {
    wire::ClientRequest request;
    request.op = op;
    request.member_id = args.id;
    request.peer = args.peer;
    request.learner = args.learner;
    return request;
}

}  // namespace

CliRunner add_member_command(CLI::App& app) {
    auto args = std::make_shared<MemberArguments>();
    CLI::App* member = app.add_subcommand("member", "List or change the cluster's members");
    member->require_subcommand(1);
    member->add_subcommand("list", "Print the members, as the node reached knows them");
    CLI::App* add = member->add_subcommand(
        "add", "Add member ID at HOST:PORT (its peer port; start it with --join)");
    add->add_option("ID", args->id, "The new member's id")->required()->check(CLI::PositiveNumber);
    add->add_option("HOST:PORT", args->peer, "Its address: peer port (client = +1)")->required();
    add->add_flag("--learner", args->learner,
                  "Add it as a learner (non-voting) to promote once caught up");
    CLI::App* promote = member->add_subcommand("promote", "Make learner ID a voter");
    promote->add_option("ID", args->id, "The learner's id")->required()->check(CLI::PositiveNumber);
    CLI::App* remove = member->add_subcommand("remove", "Remove member ID (the leader too)");
    remove->add_option("ID", args->id, "The member's id")->required()->check(CLI::PositiveNumber);
    return [args, member](const CliCommon& common) {
        const std::string name = member->get_subcommands().front()->get_name();
        const wire::Op op = name == "list"      ? wire::Op::member_list
                            : name == "add"     ? wire::Op::member_add
                            : name == "promote" ? wire::Op::member_promote
                                                : wire::Op::member_remove;
        return run_request(common, member_request(op, *args));
    };
}

CliRunner add_transfer_leader_command(CLI::App& app) {
    auto args = std::make_shared<MemberArguments>();
    CLI::App* transfer = app.add_subcommand(
        "transfer-leader", "Hand leadership to voter ID (default: the most caught-up one)");
    transfer->add_option("ID", args->id, "The voter to lead")->check(CLI::PositiveNumber);
    return [args](const CliCommon& common) {
        return run_request(common, member_request(wire::Op::transfer_leader, *args));
    };
}

}  // namespace cabildo::client
