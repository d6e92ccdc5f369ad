// `cabildo keygen` (keygen_command.h).
#include "client/keygen_command.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "client/json_writer.h"
#include "wire/security/curve.h"

namespace cabildo::client {

namespace {

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

// write_key_files() refuses an existing .key, but it writes the .key before
// it finds an existing .pub: both are checked first, so a refusal leaves
// nothing behind.
std::optional<Error> refuse_existing(const std::string& base) {
    for (const std::string& path : {base + ".key", base + ".pub"}) {
        if (exists(path)) {
            return Error{Status::exists,
                         fmt::format("{} exists: not overwritten (remove it, or choose another "
                                     "NAME); nothing was written",
                                     path)};
        }
    }
    return std::nullopt;
}

}  // namespace

int run_keygen(const CliOutput& output, const std::string& base) {
    if (!wire::curve_available()) {
        return report_key_file_error(
            output, Error{Status::bad_request, "this libzmq was built without CURVE"});
    }
    if (std::optional<Error> error = refuse_existing(base))
        return report_key_file_error(output, *error);
    const wire::CurveKeys keys = wire::curve_keypair();
    Result<bool> written = wire::write_key_files(base, keys);
    if (!written)
        return report_key_file_error(output, written.error());
    if (output.json) {
        JsonObject object;
        object.add_bool("ok", true)
            .add_text("public_key", keys.public_key)
            .add_text("key_file", base + ".key")
            .add_text("pub_file", base + ".pub");
        fmt::print(output.out, "{}\n", object.str());
    } else {
        fmt::print(output.out,
                   "public key {}\n"
                   "wrote {}.key (the key pair, mode 0600: keep it secret) and {}.pub\n",
                   keys.public_key, base, base);
    }
    return exit_ok;
}

CliRunner add_keygen_command(CLI::App& app) {
    auto base = std::make_shared<std::string>();
    CLI::App* keygen = app.add_subcommand(
        "keygen", "Write a new CURVE key pair to NAME.key (secret, 0600) and NAME.pub");
    keygen->add_option("NAME", *base, "The files' path without .key/.pub, e.g. keys/web")
        ->required();
    return [base](const CliCommon& common) {
        return run_keygen(CliOutput{stdout, stderr, common.json}, *base);
    };
}

}  // namespace cabildo::client
