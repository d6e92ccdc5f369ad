// Seed corpora for the fuzz targets, and regression inputs as files.
//
//   make_corpus seeds DIR            writes valid encodings of every message
//                                    type and op to DIR/<target>/seed-<name>
//   make_corpus regressions SRC DIR  turns each SRC/<target>.<name>.hex into
//                                    the raw file DIR/<target>/<name>
//
// Seeds come from the wire/ encoders (so they track the format) plus a few
// hand-built frames in the forms foreign clients send (STR where we write
// BIN, non-minimal integers). Nothing binary is committed: run.sh calls this
// at run time. A .hex file holds hex digits in whitespace-separated tokens, a
// token may end in "*N" (repeat it N times), and lines starting with '#' are
// comments describing the bug.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/wire/msgpack_bytes.h"
#include "wire/snapshot_messages.h"
#include "wire/client_messages.h"
#include "wire/command.h"
#include "wire/raft_messages.h"

namespace cabildo::fuzz {
namespace {

namespace fs = std::filesystem;
using namespace wire;
using namespace wire::test;
using raft::Entry;
using raft::EntryType;
using raft::Message;
using raft::MessageType;

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

using Seeds = std::vector<std::pair<std::string, std::string>>;  // name, bytes

Message message(MessageType type, raft::NodeId from, raft::NodeId to, raft::Term term) {
    Message m;
    m.type = type;
    m.from = from;
    m.to = to;
    m.term = term;
    return m;
}

Seeds raft_message_seeds() {
    Message vote = message(MessageType::request_vote, 2, 1, 6);
    vote.last_log_index = 11;
    vote.last_log_term = 5;
    Message pre_vote = vote;
    pre_vote.type = MessageType::request_pre_vote;
    pre_vote.transfer = true;
    Message vote_response = message(MessageType::request_vote_response, 1, 2, 6);
    vote_response.granted = true;
    Message pre_vote_response = vote_response;
    pre_vote_response.type = MessageType::request_pre_vote_response;
    Message append = message(MessageType::append_entries, 1, 3, 5);
    append.prev_log_index = 9;
    append.prev_log_term = 4;
    append.leader_commit = 9;
    append.read_round = 2;
    append.entries = {{5, 10, EntryType::noop, ""},
                      {5, 11, EntryType::normal, "x"},
                      {5, 12, EntryType::normal, std::string(300, 'd')}};
    Message empty_append = message(MessageType::append_entries, 1, 2, 1);
    Message accepted = message(MessageType::append_entries_response, 3, 1, 5);
    accepted.success = true;
    accepted.match_index = 12;
    Message rejected = message(MessageType::append_entries_response, 3, 1, 5);
    rejected.reject_index = 9;
    rejected.hint_index = 7;
    rejected.hint_term = 3;
    rejected.read_round = 2;
    Message heartbeat = message(MessageType::heartbeat, 1, 2, 5);
    heartbeat.leader_commit = 12;
    heartbeat.read_round = 7;
    Message heartbeat_response = message(MessageType::heartbeat_response, 2, 1, 5);
    heartbeat_response.read_round = 7;
    Message timeout_now = message(MessageType::timeout_now, 1, 2, 5);
    Message extreme = message(MessageType::append_entries, u64_max, u64_max - 1, u64_max);
    extreme.prev_log_index = u64_max - 2;
    extreme.prev_log_term = u64_max;
    extreme.entries = {{u64_max, u64_max - 1, EntryType::normal, "z"}};
    return {{"request_vote", encode_message(vote)},
            {"request_pre_vote", encode_message(pre_vote)},
            {"request_vote_response", encode_message(vote_response)},
            {"request_pre_vote_response", encode_message(pre_vote_response)},
            {"append_entries", encode_message(append)},
            {"append_entries_empty", encode_message(empty_append)},
            {"append_entries_response_ok", encode_message(accepted)},
            {"append_entries_response_reject", encode_message(rejected)},
            {"heartbeat", encode_message(heartbeat)},
            {"heartbeat_response", encode_message(heartbeat_response)},
            {"timeout_now", encode_message(timeout_now)},
            {"extreme_numbers", encode_message(extreme)}};
}

Seeds storage_record_seeds() {
    return {
        {"entry_normal", encode_entry({3, 7, EntryType::normal, "data"})},
        {"entry_noop", encode_entry({1, 1, EntryType::noop, ""})},
        {"entry_command", encode_entry({2, 5, EntryType::normal,
                                        encode_command({Op::put, "k", "v", std::nullopt, 1, 1})})},
        {"entry_extreme", encode_entry({u64_max, u64_max, EntryType::normal, "x"})},
        {"hard_state", encode_hard_state({4, 2, 9})},
        {"hard_state_zero", encode_hard_state({0, 0, 0})},
        {"hard_state_extreme", encode_hard_state({u64_max, u64_max, u64_max})}};
}

ClientRequest txn_request();

Seeds command_seeds() {
    return {
        {"put", encode_command({Op::put, "key", "value", std::nullopt, 0, 0})},
        {"put_session", encode_command({Op::put, "k", std::string(300, 'v'), std::nullopt, 7, 1})},
        {"delete", encode_command({Op::del, "key", "", std::nullopt, 0, 0})},
        {"cas_absent", encode_command({Op::cas, "k", "v", std::optional<std::string>(), 1, 2})},
        {"cas_value", encode_command({Op::cas, "k", "v", std::optional<std::string>("e"), 0, 0})},
        {"put_extreme", encode_command({Op::put, std::string(key_bytes_max, 'k'), "", std::nullopt,
                                        u64_max, u64_max})},
        {"txn", encode_command([] {
             Command c;
             c.op = Op::txn;
             c.txn = txn_request().txn;
             return c;
         }())},
        {"lease_expire", encode_command([] {
             Command c;
             c.op = Op::lease_expire;
             c.expiries = {{5, 9}, {6, 10}};
             return c;
         }())},
        {"lock_wait", encode_command([] {
             Command c{Op::lock, "", "me", std::nullopt, 0, 0};
             c.name = "build";
             c.lease = 4;
             c.wait = true;
             return c;
         }())},
        {"queue_put", encode_command([] {
             Command c{Op::queue_put, "", "job", std::nullopt, 1, 1};
             c.name = "jobs";
             c.items_max = 10;
             c.bytes_max = 1000;
             return c;
         }())},
    };
}

Seeds event_seeds() {
    return {
        {"put", encode_event({12, false, "color", std::string("blue")})},
        {"delete", encode_event({13, true, "color", std::nullopt})},
        {"put_empty_value", encode_event({u64_max, false, "k", std::string()})},
        // As a foreign publisher might write it: STR key and value.
        {"foreign_str", mp_map({{"revision", mp_uint64_wide(5)},
                                {"op", mp_str("put")},
                                {"key", mp_str("a")},
                                {"value", mp_str("b")}})},
    };
}

ClientRequest request(Op op, std::string key) {
    ClientRequest r;
    r.op = op;
    r.key = std::move(key);
    return r;
}

ClientRequest txn_request() {
    ClientRequest txn;
    txn.op = Op::txn;
    txn.txn.emplace();
    txn.txn->compare = {{"k", CompareTarget::value, CompareResult::eq, "v", 0},
                        {"k", CompareTarget::exists, CompareResult::ne, "", 1}};
    txn.txn->success = {{Op::put, "k", "w", 3, true, false, 1000},
                        {Op::del, "tmp/", "", 0, false, true, 1000}};
    txn.txn->failure = {{Op::range, "k", "", 0, false, false, 10}};
    return txn;
}

Seeds client_request_seeds() {
    ClientRequest get = request(Op::get, "color");
    get.id = mp_uint(1);
    ClientRequest get_serializable = get;
    get_serializable.consistency = Consistency::serializable;
    ClientRequest put = request(Op::put, "color");
    put.value = "blue";
    put.session = 7;
    put.seq = 1;
    put.id = mp_str("req-2");
    ClientRequest del = request(Op::del, "color");
    ClientRequest cas = request(Op::cas, "k");
    cas.value = "v";
    cas.expected = std::optional<std::string>("old");
    ClientRequest cas_absent = request(Op::cas, "k");
    cas_absent.value = "v";
    cas_absent.expected = std::optional<std::string>();
    cas_absent.id = mp_array(
        {mp_str("a"),
         mp_map({{"b", mp_array({mp_uint(1), mp_float64(2.5), mp_nil(), mp_bool(true)})}})});
    ClientRequest range = request(Op::range, "");
    range.prefix = "p";
    range.limit = 10;
    ClientRequest status = request(Op::status, "");
    status.id = mp_negative(-3);
    ClientRequest watch = request(Op::watch_from, "");
    watch.from = 42;
    watch.prefix = "kv";
    return {
        {"get", encode_request(get)},
        {"get_serializable", encode_request(get_serializable)},
        {"put", encode_request(put)},
        {"delete", encode_request(del)},
        {"cas", encode_request(cas)},
        {"cas_absent_nested_id", encode_request(cas_absent)},
        {"range", encode_request(range)},
        {"status", encode_request(status)},
        {"watch_from", encode_request(watch)},
        // Python msgpack.packb({"op":"put","key":"k","value":"v","session":1,"seq":1,"id":"x"}).
        {"foreign_str", mp_map({{"op", mp_str("put")},
                                {"key", mp_str("k")},
                                {"value", mp_str("v")},
                                {"session", mp_uint64_wide(1)},
                                {"seq", mp_uint(1)},
                                {"id", mp_str("x")}})},
        {"unknown_op_with_id", mp_map({{"op", mp_str("watch")}, {"id", mp_uint(9)}})},
        {"txn", encode_request(txn_request())},
        {"lease_grant", mp_map({{"op", mp_str("lease_grant")}, {"ttl_ms", mp_uint(5000)}})},
        {"lease_info_keys", mp_map({{"op", mp_str("lease_info")}, {"lease", mp_uint(7)},
                                    {"keys", mp_bool(true)}})},
        {"put_lease_prev", mp_map({{"op", mp_str("put")}, {"key", mp_bin("k")},
                                   {"value", mp_bin("v")}, {"lease", mp_uint(7)},
                                   {"prev", mp_bool(true)}})},
        {"delete_prefix", mp_map({{"op", mp_str("delete")}, {"prefix", mp_bin("tmp/")}})},
        {"cas_mod_revision", mp_map({{"op", mp_str("cas")}, {"key", mp_bin("k")},
                                     {"value", mp_bin("v")}, {"mod_revision", mp_uint(3)}})},
        {"lock", mp_map({{"op", mp_str("lock")}, {"name", mp_bin("build")},
                         {"lease", mp_uint(40)}, {"wait_ms", mp_uint(3000)}})},
        {"resign_token", mp_map({{"op", mp_str("resign")}, {"name", mp_bin("db")},
                                 {"token", mp_uint(41)}})},
        {"queue_get", mp_map({{"op", mp_str("queue_get")}, {"queue", mp_bin("jobs")},
                              {"wait_ms", mp_uint(100)}, {"visibility_ms", mp_uint(500)}})},
        {"queue_ack", mp_map({{"op", mp_str("queue_ack")}, {"queue", mp_bin("jobs")},
                              {"item", mp_uint(1)}, {"receipt", mp_uint(71)}})},
    };
}

ClientReply ok_reply(std::uint64_t revision) {
    ClientReply r;
    r.ok = true;
    r.revision = revision;
    r.leader = "tcp://10.0.0.1:7001";
    return r;
}

Seeds client_reply_seeds() {
    ClientReply get = ok_reply(42);
    get.value = std::optional<std::string>("blue");
    get.id = mp_uint(1);
    ClientReply get_absent = ok_reply(42);
    get_absent.value = std::optional<std::string>();
    ClientReply del = ok_reply(43);
    del.succeeded = true;
    ClientReply range = ok_reply(3);
    range.range = RangePage{{{"a", "1"}, {"b", "2"}}, true};
    ClientReply status = ok_reply(3);
    status.status =
        NodeStatus{1, "leader", 2, 1, 3, 3, 3, 99, {{1, "tcp://a:1", {}, false, 0, {}, false}, {2, "tcp://b:2", {}, false, 0, {}, false}}};
    status.status->quota_bytes = 1 << 20;  // the quota fields decode too
    status.status->state_bytes = 4096;
    ClientReply watch = ok_reply(50);
    watch.events = std::vector<Event>{{12, false, "k", std::string("v")}, {13, true, "k", {}}};
    watch.more = true;
    ClientReply error = make_error_reply(error_timeout, "gave up", mp_array({mp_uint(1)}));
    ClientReply not_leader = make_error_reply(error_no_leader, "no leader \xff", "");
    not_leader.leader = std::nullopt;
    return {{"get", encode_reply(get)},       {"get_absent", encode_reply(get_absent)},
            {"delete", encode_reply(del)},    {"range", encode_reply(range)},
            {"status", encode_reply(status)}, {"watch_from", encode_reply(watch)},
            {"error", encode_reply(error)},   {"no_leader", encode_reply(not_leader)}};
}

Seeds snapshot_header_seeds() {
    using cabildo::wire::SnapshotPiece;
    using cabildo::wire::SnapshotPieceKind;
    const SnapshotPiece chunk{SnapshotPieceKind::chunk, 1, 2, 7, 900, 6, 4096, 10000, 77, {}};
    const SnapshotPiece ack{SnapshotPieceKind::ack, 2, 1, 7, 900, 6, 4096, 10000, 0, {}};
    return {{"chunk", cabildo::wire::encode_snapshot_header(chunk)},
            {"ack", cabildo::wire::encode_snapshot_header(ack)}};
}

std::map<std::string, Seeds> all_seeds() {
    return {{"fuzz_raft_message", raft_message_seeds()},
            {"fuzz_storage_records", storage_record_seeds()},
            {"fuzz_command", command_seeds()},
            {"fuzz_event", event_seeds()},
            {"fuzz_client_request", client_request_seeds()},
            {"fuzz_client_reply", client_reply_seeds()},
            {"fuzz_snapshot_header", snapshot_header_seeds()}};
}

bool write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(out);
}

int write_seeds(const fs::path& dir) {
    for (const auto& [target, seeds] : all_seeds()) {
        fs::create_directories(dir / target);
        for (const auto& [name, bytes] : seeds) {
            if (!write_file(dir / target / ("seed-" + name), bytes)) {
                std::fprintf(stderr, "make_corpus: cannot write %s/%s\n", target.c_str(),
                             name.c_str());
                return 1;
            }
        }
    }
    return 0;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Appends the bytes of one token: hex digits, optionally followed by "*N" to
// repeat them N times (so a 16 KB input stays a one-line file). False on a
// stray character or an odd digit count.
bool append_token(const std::string& token, std::string& bytes) {
    const std::size_t star = token.find('*');
    const std::string digits = token.substr(0, star);
    std::size_t repeat = 1;
    if (star != std::string::npos) {
        const std::string count = token.substr(star + 1);
        if (count.empty() || count.size() > 8 ||
            count.find_first_not_of("0123456789") != std::string::npos) {
            return false;
        }
        repeat = std::stoul(count);
    }
    if (digits.size() % 2 != 0)
        return false;
    std::string chunk;
    for (std::size_t i = 0; i < digits.size(); i += 2) {
        const int high = hex_digit(digits[i]);
        const int low = hex_digit(digits[i + 1]);
        if (high < 0 || low < 0)
            return false;
        chunk.push_back(static_cast<char>(high << 4 | low));
    }
    for (std::size_t i = 0; i < repeat; ++i) bytes += chunk;
    return true;
}

// The bytes of a .hex file: whitespace-separated tokens (append_token);
// lines starting with '#' are comments. nullopt on a malformed token.
std::optional<std::string> read_hex(const fs::path& path) {
    std::ifstream in(path);
    std::string line;
    std::string bytes;
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] == '#')
            continue;
        std::istringstream tokens(line);
        std::string token;
        while (tokens >> token) {
            if (!append_token(token, bytes))
                return std::nullopt;
        }
    }
    return bytes;
}

int write_regressions(const fs::path& source, const fs::path& dir) {
    if (!fs::is_directory(source))
        return 0;
    for (const fs::directory_entry& file : fs::directory_iterator(source)) {
        if (file.path().extension() != ".hex")
            continue;
        const std::string stem = file.path().stem().string();  // <target>.<name>
        const std::size_t dot = stem.find('.');
        const std::optional<std::string> bytes = read_hex(file.path());
        if (dot == std::string::npos || !bytes) {
            std::fprintf(stderr, "make_corpus: bad regression file %s\n", file.path().c_str());
            return 1;
        }
        fs::create_directories(dir / stem.substr(0, dot));
        if (!write_file(dir / stem.substr(0, dot) / stem.substr(dot + 1), *bytes))
            return 1;
    }
    return 0;
}

}  // namespace
}  // namespace cabildo::fuzz

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "seeds" && argc == 3)
        return cabildo::fuzz::write_seeds(argv[2]);
    if (mode == "regressions" && argc == 4)
        return cabildo::fuzz::write_regressions(argv[2], argv[3]);
    std::fprintf(stderr, "usage: make_corpus seeds DIR | make_corpus regressions SRC DIR\n");
    return 2;
}
