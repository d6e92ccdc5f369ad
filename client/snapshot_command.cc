// `cabildo snapshot save | inspect`; see snapshot_command.h.
#include "client/snapshot_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "client/cli_commands.h"
#include "client/client.h"
#include "client/json_writer.h"
#include "client/request_once.h"
#include "storage/posix_file.h"
#include "storage/snapshot_file.h"
#include "wire/protocol.h"

namespace cabildo::client {

namespace {

using Clock = std::chrono::steady_clock;

struct SnapshotArguments {
    std::string file;
    bool save = false;
    std::uint64_t rate_mb = 0;  // MB/s at most; 0: no limit
};

// The node to download from, and the keys to reach it with.
struct Source {
    std::string endpoint;
    std::optional<ClientCurve> curve;
    std::chrono::milliseconds wait{5000};  // per chunk: --timeout-ms, at most 5 s
};

Result<wire::ClientReply> read_chunk(zmq::context_t& context, const Source& source,
                                     std::uint64_t index, std::uint64_t offset,
                                     std::chrono::milliseconds timeout,
                                     std::uint64_t at_least = 0) {
    wire::ClientRequest request;
    request.op = wire::Op::snapshot_read;
    request.index = index;
    request.from = offset;
    request.at_least = at_least;
    return request_once(context, source.endpoint, wire::encode_request(request), timeout,
                        source.curve);
}

Error reply_error(const wire::ClientReply& reply) {
    // permission_denied (no admin right) is final: every node says the same.
    const Status status = reply.error == "compacted" ? Status::not_found
                          : reply.error == wire::error_permission_denied ? Status::permission_denied
                                                                         : Status::unavailable;
    return Error{status, reply.error + ": " + reply.message};
}

// The first chunk of a fresh snapshot from endpoint, waiting while it takes one.
Result<wire::ClientReply> first_chunk(zmq::context_t& context, const Source& source,
                                      Clock::time_point deadline) {
    std::uint64_t at_least = 0;  // the first answer says which index it takes
    for (;;) {
        auto reply =
            read_chunk(context, source, 0, 0, source.wait, at_least);
        if (!reply) return reply.error();
        if (reply->ok && reply->snapshot) return reply;
        if (reply->error != "unavailable" || Clock::now() > deadline) return reply_error(*reply);
        if (at_least == 0) at_least = reply->revision;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

Result<storage::SnapshotInfo> download(const Source& source, const std::string& part,
                                       std::uint64_t rate_mb, Clock::time_point deadline) {
    zmq::context_t context(1);
    auto first = first_chunk(context, source, deadline);
    if (!first) return first.error();
    std::FILE* out = std::fopen(part.c_str(), "wb");
    if (out == nullptr) return Error{Status::io_error, "cannot create " + part};
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(out, &std::fclose);
    wire::SnapshotChunk chunk = *first->snapshot;
    const auto started = Clock::now();
    // The backup often shares a disk with a node: its writeback is paced.
    storage::WriteBehind write_behind(::fileno(out), true);
    const storage::Pacer pacer(rate_mb * 1000000);
    for (;;) {
        if (std::fwrite(chunk.data.data(), 1, chunk.data.size(), out) != chunk.data.size() ||
            std::fflush(out) != 0) {
            return Error{Status::io_error, "cannot write " + part};
        }
        const std::uint64_t done = chunk.offset + chunk.data.size();
        write_behind.wrote(done);
        pacer.pace(done);
        const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
        std::fprintf(stderr, "\rsnapshot %llu: %.1f of %.1f MB, %.1f MB/s   ",
                     static_cast<unsigned long long>(chunk.index), done / 1e6, chunk.total / 1e6,
                     seconds > 0 ? done / 1e6 / seconds : 0.0);
        if (done >= chunk.total) break;
        if (chunk.data.empty() || Clock::now() > deadline) {
            return Error{Status::timeout, "the download did not finish in time"};
        }
        auto next =
            read_chunk(context, source, chunk.index, done, source.wait);
        if (!next) return next.error();
        if (!next->ok || !next->snapshot) return reply_error(*next);
        chunk = std::move(*next->snapshot);
        if (chunk.offset != done) return Error{Status::io_error, "a chunk at the wrong offset"};
    }
    std::fprintf(stderr, "\n");
    if (std::fflush(out) != 0 || ::fsync(::fileno(out)) != 0) {
        return Error{Status::io_error, "cannot sync " + part};
    }
    closer.reset();
    return storage::read_snapshot(part, {});  // every checksum, end to end
}

void print_info(const CliOutput& output, const std::string& file,
                const storage::SnapshotInfo& info) {
    std::string members;
    for (const raft::Member& m : info.meta.membership.members) {
        members += (members.empty() ? "" : ",") + std::to_string(m.id) + (m.learner ? "L" : "");
    }
    if (output.json) {
        JsonObject object;
        object.add_bool("ok", true)
            .add_text("file", file)
            .add_uint("index", info.meta.index)
            .add_uint("term", info.meta.term)
            .add_text("members", members)
            .add_uint("keys", info.keys)
            .add_uint("records", info.records)
            .add_uint("bytes", info.bytes)
            .add_text("state_hash", fmt::format("{:016x}", info.state_hash))
            .add_uint("cluster_id", info.cluster_id);
        std::fprintf(output.out, "%s\n", object.str().c_str());
        return;
    }
    std::fprintf(output.out,
                 "%s: snapshot at index %llu, term %llu\n  members %s, cluster id %llu\n"
                 "  %llu keys, %llu records, %llu bytes, state hash %016llx\n",
                 file.c_str(), static_cast<unsigned long long>(info.meta.index),
                 static_cast<unsigned long long>(info.meta.term), members.c_str(),
                 static_cast<unsigned long long>(info.cluster_id),
                 static_cast<unsigned long long>(info.keys),
                 static_cast<unsigned long long>(info.records),
                 static_cast<unsigned long long>(info.bytes),
                 static_cast<unsigned long long>(info.state_hash));
}

int run_save(const SnapshotArguments& args, const CliCommon& common) {
    const CliOutput output{stdout, stderr, common.json};
    const std::vector<std::string> endpoints =
        common.endpoints.empty() ? default_endpoints() : common.endpoints;
    // A big state takes a while: the global timeout only bounds each wait.
    const auto deadline = Clock::now() + std::max(common.timeout, std::chrono::milliseconds(600000));
    const std::string part = args.file + ".part";
    Error last{Status::unavailable, "no endpoint"};
    for (const std::string& endpoint : endpoints) {
        auto info = download(Source{endpoint, common.curve,
                                      std::min(common.timeout, std::chrono::milliseconds(5000))},
                               part, args.rate_mb, deadline);
        if (!info) {
            last = Error{info.error().status, endpoint + ": " + info.error().detail};
            ::unlink(part.c_str());
            if (last.status == Status::bad_request) break;
            continue;
        }
        if (std::rename(part.c_str(), args.file.c_str()) != 0) {
            return report_error(output, Error{Status::io_error, "cannot rename " + part});
        }
        print_info(output, args.file, *info);
        return exit_ok;
    }
    if (last.status == Status::timeout)  // the last node did not answer at all
        last.detail += "; " + no_answer_hint(common.curve.has_value());
    return report_error(output, last);
}

int run_inspect(const SnapshotArguments& args, const CliCommon& common) {
    const CliOutput output{stdout, stderr, common.json};
    auto info = storage::read_snapshot(args.file, {});
    if (!info) return report_error(output, info.error());
    print_info(output, args.file, *info);
    return exit_ok;
}

}  // namespace

CliRunner add_snapshot_command(CLI::App& app) {
    auto args = std::make_shared<SnapshotArguments>();
    CLI::App* snapshot = app.add_subcommand("snapshot", "Back up the cluster's state, or check a backup");
    snapshot->require_subcommand(1);
    CLI::App* save = snapshot->add_subcommand(
        "save", "Write a consistent, checksummed copy of the cluster's state to FILE (online)");
    save->add_option("FILE", args->file, "where to write it")->required();
    save->add_option("--rate-mb", args->rate_mb,
                     "MB/s at most, so that a node sharing this disk keeps its log's latency "
                     "(0: no limit)")
        ->capture_default_str();
    save->callback([args] { args->save = true; });
    CLI::App* inspect = snapshot->add_subcommand(
        "inspect", "Check FILE and print its index, term, members, key count and size");
    inspect->add_option("FILE", args->file, "a snapshot file")->required();
    return [args](const CliCommon& common) {
        return args->save ? run_save(*args, common) : run_inspect(*args, common);
    };
}

}  // namespace cabildo::client
