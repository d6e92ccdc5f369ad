// Locks, elections and queues from the command line; see coord_command.h.
#include "client/coord_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include "client/cli_commands.h"
#include "client/json_writer.h"
#include "client/kv_command.h"
#include "client/watcher.h"
#include "wire/coord.h"

namespace cabildo::client {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::atomic<int> signalled{0};  // SIGINT or SIGTERM received

void on_signal(int signal) { signalled = signal; }

void catch_signals() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

// --ttl 10s, --wait 500ms, --visibility 2m: milliseconds, with a unit.
CLI::Option* add_duration(CLI::App* app, const std::string& name, std::uint64_t& ms,
                          const std::string& what) {
    const std::map<std::string, std::uint64_t> units{
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    return app->add_option(name, ms, what + " (ms, s, m or h; default " + std::to_string(ms) + " ms)")
        ->transform(CLI::AsNumberWithUnit(units, CLI::AsNumberWithUnit::CASE_INSENSITIVE));
}

void print_line(const CliOutput& output, const wire::ClientReply& reply, const std::string& human) {
    fmt::print(output.out, "{}\n", output.json ? reply_json(reply) : human);
    std::fflush(output.out);
}

// A lease granted for the command and renewed every third of its TTL by a
// thread with its own Client, until stop(). lost() once the cluster says it
// is gone, or no renewal was confirmed for a whole TTL: from then on the
// lease may have expired, and whatever it holds with it.
class LeaseKeeper {
public:
    LeaseKeeper(const CliCommon& common, std::uint64_t ttl_ms) : common_(common), ttl_(ttl_ms) {}
    ~LeaseKeeper() { stop(); }

    Result<std::uint64_t> grant() {
        Client client(options_for(common_));
        wire::ClientRequest request;
        request.op = wire::Op::lease_grant;
        request.ttl_ms = ttl_.count();
        const Clock::time_point sent = Clock::now();
        auto reply = client.call(request);
        if (!reply) return reply.error();
        id_ = reply->lease->id;
        safe_until_ = (sent + ttl_).time_since_epoch().count();
        thread_ = std::thread([this] { renew(); });
        return id_;
    }
    bool lost() const { return lost_ || Clock::now().time_since_epoch().count() > safe_until_; }
    // While set, a SIGINT or SIGTERM makes the renewing thread revoke the
    // lease: a request waiting for a grant then ends at once (its waiter is
    // gone), where the main thread could not be interrupted.
    void revoke_on_signal(bool on) { revoke_on_signal_ = on; }
    std::uint64_t id() const { return id_; }
    // Stops renewing and revokes the lease: what it holds is released now.
    void release() {
        stop();
        if (id_ == 0) return;
        Client client(options_for(common_));
        wire::ClientRequest request;
        request.op = wire::Op::lease_revoke;
        request.lease = id_;
        (void)client.call(request);
        id_ = 0;
    }

private:
    void stop() {
        stopping_ = true;
        if (thread_.joinable()) thread_.join();
    }
    void renew() {
        ClientOptions options = options_for(common_);
        options.total_timeout = std::max(milliseconds(1000), ttl_ / 3);
        Client client(options);
        Clock::time_point next = Clock::now() + ttl_ / 3;
        while (!stopping_ && !lost_) {
            if (signalled && revoke_on_signal_) {
                wire::ClientRequest revoke;
                revoke.op = wire::Op::lease_revoke;
                revoke.lease = id_;
                (void)client.call(revoke);
                lost_ = true;
                return;
            }
            if (Clock::now() < next) {
                std::this_thread::sleep_for(milliseconds(20));
                continue;
            }
            wire::ClientRequest request;
            request.op = wire::Op::lease_keepalive;
            request.lease = id_;
            const Clock::time_point sent = Clock::now();
            auto reply = client.call(request);
            if (reply) {
                safe_until_ = (sent + ttl_).time_since_epoch().count();
                next = sent + ttl_ / 3;
            } else if (reply.error().status == Status::not_found) {
                lost_ = true;
            } else {
                next = Clock::now() + milliseconds(200);  // unreachable for now: soon again
            }
        }
    }

    CliCommon common_;
    milliseconds ttl_;
    std::uint64_t id_ = 0;
    std::atomic<Clock::rep> safe_until_{0};
    std::atomic<bool> lost_{false};
    std::atomic<bool> revoke_on_signal_{true};
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

// Asks for the mutex, waiting up to wait_ms, until granted, a signal came
// or the lease was lost. It waits in rounds of at most wait_round_ms with
// `keep` (the waiter stays queued between rounds), so a node that holds the
// request and dies costs one round, not the whole wait. When the wait is
// over, the caller's revoke of the lease takes the waiter out.
constexpr std::int64_t wait_round_ms = 10000;

Result<wire::ClientReply> acquire(Client& client, wire::Op op, const std::string& name,
                                  const std::string& value, LeaseKeeper& keeper,
                                  std::uint64_t wait_ms) {
    const Clock::time_point end = Clock::now() + milliseconds(wait_ms);
    while (true) {
        const auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now()).count();
        wire::ClientRequest request;
        request.op = op;
        request.name = name;
        request.lease = keeper.id();
        request.value = value;
        request.wait_ms = static_cast<std::uint32_t>(std::clamp<std::int64_t>(left, 0, wait_round_ms));
        request.keep = true;
        auto reply = client.call(request);
        if (!reply || *reply->succeeded || left <= wait_round_ms || signalled || keeper.lost()) {
            return reply;
        }
    }
}

struct LockArguments {
    std::string name;
    std::string value;
    std::uint64_t ttl_ms = 10000;
    std::uint64_t wait_ms = 3600000;
    std::vector<std::string> command;
};

// Runs the command; returns its exit status, or exit_lease_lost after killing it.
int supervise(const std::vector<std::string>& command, LeaseKeeper& keeper,
              const wire::ClientReply& grant, const CliOutput& output) {
    const pid_t child = fork();
    if (child < 0) return report_error(output, Error{Status::io_error, "fork failed"});
    if (child == 0) {
        setpgid(0, 0);  // its own group: signals reach what it started too
        setenv("CABILDO_FENCING_TOKEN", std::to_string(*grant.token).c_str(), 1);
        setenv("CABILDO_LEASE", std::to_string(keeper.id()).c_str(), 1);
        std::vector<char*> argv;
        for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        execvp(argv[0], argv.data());
        std::fprintf(stderr, "cabildo lock: cannot run %s: %s\n", argv[0], std::strerror(errno));
        _exit(127);
    }
    setpgid(child, child);  // as the child does: whichever runs first
    Clock::time_point kill_at{};
    int forwarded = 0;
    while (true) {
        int status = 0;
        if (waitpid(child, &status, WNOHANG) == child) {
            if (kill_at != Clock::time_point{}) {
                kill(-child, SIGKILL);  // nothing it started may go on without the lock
                return exit_lease_lost;
            }
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (signalled && forwarded != signalled) {
            forwarded = signalled;
            kill(-child, forwarded);
        }
        if (keeper.lost() && kill_at == Clock::time_point{}) {
            fmt::print(output.err, "cabildo lock: the lease was lost; stopping the command\n");
            kill(-child, SIGTERM);
            kill_at = Clock::now() + std::chrono::seconds(5);
        }
        if (kill_at != Clock::time_point{} && Clock::now() > kill_at) kill(-child, SIGKILL);
        std::this_thread::sleep_for(milliseconds(20));
    }
}

}  // namespace

CliRunner add_lock_command(CLI::App& app) {
    auto args = std::make_shared<LockArguments>();
    CLI::App* lock = app.add_subcommand(
        "lock", "Run COMMAND holding the lock NAME (after --); CABILDO_FENCING_TOKEN is set");
    lock->add_option("NAME", args->name, "The lock")->required();
    lock->add_option("COMMAND", args->command, "The command and its arguments")->required();
    add_duration(lock, "--ttl", args->ttl_ms, "The lease's TTL: how soon a dead holder frees it")
        ->check(CLI::Range(wire::lease_ttl_ms_min, wire::lease_ttl_ms_max));
    add_duration(lock, "--wait", args->wait_ms, "Give up (exit 1) if not acquired by then");
    lock->add_option("--value", args->value, "Who holds it, for others to see");
    return [args](const CliCommon& common) {
        const CliOutput output{stdout, stderr, common.json};
        catch_signals();
        LeaseKeeper keeper(common, args->ttl_ms);
        if (auto granted = keeper.grant(); !granted) return report_error(output, granted.error());
        Client client(options_for(common));
        auto reply = acquire(client, wire::Op::lock, args->name, args->value, keeper, args->wait_ms);
        if (!reply || !*reply->succeeded) {
            const bool interrupted = signalled != 0;
            keeper.release();
            if (interrupted) return 128 + static_cast<int>(signalled);
            if (!reply) return report_error(output, reply.error());
            fmt::print(output.err, "cabildo lock: {} not acquired\n", args->name);
            return static_cast<int>(exit_not_found);
        }
        keeper.revoke_on_signal(false);  // signals go to the command now
        const int status = supervise(args->command, keeper, *reply, output);
        keeper.release();
        return status;
    };
}

namespace {

struct ElectArguments {
    std::string name;
    std::string value;
    bool observe = false;
    std::uint64_t ttl_ms = 10000;
};

std::string leader_line(const std::string& name, const std::optional<std::string>& value,
                        std::uint64_t token) {
    if (!value) return fmt::format("{}: no leader", name);
    return fmt::format("{}: leader {} (token {})", name, *value, token);
}

// Prints the leader, then each change: watches the election's record key.
int observe(const CliCommon& common, const CliOutput& output, const std::string& name) {
    Client client(options_for(common));
    wire::ClientRequest request;
    request.op = wire::Op::leader;
    request.name = name;
    auto reply = client.call(request);
    if (!reply) return report_error(output, reply.error());
    std::optional<std::string> value = reply->value.value_or(std::nullopt);
    print_line(output, *reply, leader_line(name, value, reply->token.value_or(0)));
    const std::string base = wire::mutex_base(wire::MutexKind::election, name);
    WatchOptions options;
    options.endpoints = common.endpoints.empty() ? default_endpoints() : common.endpoints;
    options.prefix = base;
    options.from_revision = reply->revision + 1;
    options.curve = common.curve;
    Watcher watcher(options);
    while (!signalled) {
        auto events = watcher.next(milliseconds(500));
        if (!events) return report_error(output, events.error());
        for (const wire::Event& event : *events) {
            if (event.key != base) continue;  // a waiter's key
            wire::ClientReply change;
            change.ok = true;
            change.revision = event.revision;
            change.value = event.value;
            if (!event.deleted) change.token = event.meta.create_revision;
            print_line(output, change, leader_line(name, event.value, event.meta.create_revision));
        }
    }
    return exit_ok;
}

int campaign(const CliCommon& common, const CliOutput& output, const ElectArguments& args) {
    LeaseKeeper keeper(common, args.ttl_ms);
    if (auto granted = keeper.grant(); !granted) return report_error(output, granted.error());
    Client client(options_for(common));
    Result<wire::ClientReply> reply = Error{Status::unavailable, "not elected"};
    while (!signalled && !keeper.lost()) {
        reply = acquire(client, wire::Op::campaign, args.name, args.value, keeper,
                        wire::wait_ms_max);
        if (!reply || *reply->succeeded) break;
    }
    if (!reply || !*reply->succeeded) {
        const bool interrupted = signalled != 0;
        keeper.release();
        if (interrupted) return static_cast<int>(exit_ok);
        if (!reply) return report_error(output, reply.error());
        return static_cast<int>(exit_lease_lost);
    }
    print_line(output, *reply, fmt::format("{}: elected {} (token {})", args.name, args.value,
                                           *reply->token));
    while (!signalled && !keeper.lost()) std::this_thread::sleep_for(milliseconds(20));
    const bool lost = !signalled && keeper.lost();  // a signal revokes it on purpose
    keeper.release();  // resigns
    if (lost) fmt::print(output.err, "cabildo elect: the lease was lost; no longer leader\n");
    return lost ? exit_lease_lost : exit_ok;
}

}  // namespace

CliRunner add_elect_command(CLI::App& app) {
    auto args = std::make_shared<ElectArguments>();
    CLI::App* elect = app.add_subcommand(
        "elect", "Campaign in election NAME with VALUE and hold leadership until killed; or "
                 "--observe NAME");
    elect->add_option("NAME", args->name, "The election")->required();
    elect->add_option("VALUE", args->value, "This candidate's value (e.g. its address)");
    elect->add_flag("--observe", args->observe, "Print the leader, then each change");
    add_duration(elect, "--ttl", args->ttl_ms, "The lease's TTL: how soon a dead leader is replaced")
        ->check(CLI::Range(wire::lease_ttl_ms_min, wire::lease_ttl_ms_max));
    return [args](const CliCommon& common) {
        const CliOutput output{stdout, stderr, common.json};
        catch_signals();
        if (args->observe) return observe(common, output, args->name);
        return campaign(common, output, *args);
    };
}

namespace {

struct QueueArguments {
    std::string queue;
    std::string value;
    std::uint64_t item = 0;
    std::uint64_t receipt = 0;
    std::uint64_t wait_ms = 30000;
    std::uint64_t visibility_ms = wire::visibility_ms_default;
};

std::string queue_line(const std::string& which, const wire::ClientReply& reply) {
    if (which == "put") return fmt::format("item {}", reply.item.value_or(0));
    if (which == "len") {
        return fmt::format("items {} in_flight {} bytes {}", reply.queue_length->items,
                           reply.queue_length->in_flight, reply.queue_length->bytes);
    }
    if (which == "ack") return *reply.succeeded ? "acknowledged" : "receipt no longer valid";
    if (!*reply.succeeded) return "empty";
    std::string line = fmt::format("item {}", *reply.item);
    if (reply.receipt) line += fmt::format(" receipt {}", *reply.receipt);
    return line + "\n" + reply.value->value_or("");
}

}  // namespace

CliRunner add_queue_command(CLI::App& app) {
    auto args = std::make_shared<QueueArguments>();
    CLI::App* queue = app.add_subcommand("queue", "Durable queues: put, get, poll, ack, len, peek");
    CLI::App* put = queue->add_subcommand("put", "Append VALUE to QUEUE; prints its item number");
    put->add_option("QUEUE", args->queue)->required();
    put->add_option("VALUE", args->value)->required();
    CLI::App* get = queue->add_subcommand("get", "Take the first item, waiting for one");
    CLI::App* poll = queue->add_subcommand("poll", "Take the first item if there is one");
    for (CLI::App* taker : {get, poll}) {
        taker->add_option("QUEUE", args->queue)->required();
        add_duration(taker, "--visibility", args->visibility_ms,
                     "Hidden from other consumers this long unless acknowledged")
            ->check(CLI::Range(wire::visibility_ms_min, wire::visibility_ms_max));
    }
    add_duration(get, "--wait", args->wait_ms, "Wait this long for an item")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{wire::wait_ms_max}));
    CLI::App* ack = queue->add_subcommand("ack", "Remove a delivered item for good");
    ack->add_option("QUEUE", args->queue)->required();
    ack->add_option("ITEM", args->item)->required();
    ack->add_option("RECEIPT", args->receipt)->required();
    CLI::App* len = queue->add_subcommand("len", "Items, in flight and bytes of QUEUE");
    CLI::App* peek = queue->add_subcommand("peek", "Show the first ready item, not taking it");
    for (CLI::App* reader : {len, peek}) reader->add_option("QUEUE", args->queue)->required();
    queue->require_subcommand(1);
    return [args, queue](const CliCommon& common) {
        const std::string which = queue->get_subcommands().front()->get_name();
        const CliOutput output{stdout, stderr, common.json};
        wire::ClientRequest request;
        request.name = args->queue;
        if (which == "put") {
            request.op = wire::Op::queue_put;
            request.value = args->value;
        } else if (which == "get" || which == "poll") {
            request.op = wire::Op::queue_get;
            request.wait_ms = which == "get" ? static_cast<std::uint32_t>(args->wait_ms) : 0;
            request.visibility_ms = args->visibility_ms;
        } else if (which == "ack") {
            request.op = wire::Op::queue_ack;
            request.item = args->item;
            request.receipt = args->receipt;
        } else {
            request.op = which == "len" ? wire::Op::queue_len : wire::Op::queue_peek;
        }
        Client client(options_for(common));
        auto reply = client.call(std::move(request));
        if (!reply) return report_error(output, reply.error());
        print_line(output, *reply, queue_line(which, *reply));
        const bool found = which == "put" || which == "len" || *reply->succeeded;
        return found ? static_cast<int>(exit_ok) : static_cast<int>(exit_not_found);
    };
}

}  // namespace cabildo::client
