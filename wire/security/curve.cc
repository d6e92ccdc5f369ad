// CurveZMQ key files and socket options; see curve.h.
#include "wire/security/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace cabildo::wire {

namespace {

Error bad(const std::string& path, const std::string& what) {
    return Error{Status::bad_request, "key file " + path + ": " + what};
}

// `name = "value"` (quotes optional); false for blank and comment lines.
bool parse_line(std::string line, std::string& name, std::string& value) {
    // Z85 has both '#' and '=': a '#' is a comment only before the first '='.
    const auto hash = line.find('#');
    auto eq = line.find('=');
    if (hash != std::string::npos && (eq == std::string::npos || hash < eq)) {
        line.resize(hash);
        eq = std::string::npos;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) return false;
    if (eq == std::string::npos) {
        name.clear();
        return true;
    }
    auto trim = [](std::string s) {
        const auto b = s.find_first_not_of(" \t\r\"");
        const auto e = s.find_last_not_of(" \t\r\"");
        return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    name = trim(line.substr(0, eq));
    value = trim(line.substr(eq + 1));
    return true;
}

Result<bool> write_file(const std::string& path, const std::string& text, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        return Error{Status::io_error, "cannot create " + path + ": " + std::strerror(errno)};
    }
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    if (!ok) return Error{Status::io_error, "cannot write " + path + ": " + std::strerror(saved)};
    return true;
}

}  // namespace

bool curve_available() { return zmq_has("curve") != 0; }

CurveKeys curve_keypair() {
    char pub[curve_key_chars + 1];
    char sec[curve_key_chars + 1];
    CABILDO_ASSERT(zmq_curve_keypair(pub, sec) == 0, "zmq_curve_keypair failed");
    return CurveKeys{pub, sec};
}

bool is_z85_key(const std::string& text) {
    if (text.size() != curve_key_chars) return false;
    std::uint8_t bytes[32];
    return zmq_z85_decode(bytes, text.c_str()) != nullptr;
}

Result<CurveKeys> read_key_file(const std::string& path, bool need_secret) {
    std::ifstream in(path);
    if (!in) return bad(path, std::string("cannot read it: ") + std::strerror(errno));
    CurveKeys keys;
    std::string line;
    std::string name;
    std::string value;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!parse_line(line, name, value)) continue;
        std::string* slot = name == "public-key"   ? &keys.public_key
                            : name == "secret-key" ? &keys.secret_key
                                                   : nullptr;
        if (slot == nullptr) {
            return bad(path, "line " + std::to_string(number) +
                                 ": expected public-key = \"...\" or secret-key = \"...\"");
        }
        if (!is_z85_key(value)) {
            return bad(path, "line " + std::to_string(number) + ": " + name +
                                 " is not a 40-character Z85 key");
        }
        *slot = value;
    }
    if (need_secret && keys.secret_key.empty()) {
        return bad(path, "holds no secret-key (a .pub file?): give the .key file that "
                         "`cabildo keygen` wrote");
    }
    if (!keys.secret_key.empty()) {
        char pub[curve_key_chars + 1];
        if (zmq_curve_public(pub, keys.secret_key.c_str()) != 0) {
            return bad(path, "secret-key is not a valid key");
        }
        if (!keys.public_key.empty() && keys.public_key != pub) {
            return bad(path, "public-key does not belong to secret-key");
        }
        keys.public_key = pub;
    }
    if (keys.public_key.empty()) return bad(path, "holds no public-key");
    return keys;
}

Result<bool> write_key_files(const std::string& base, const CurveKeys& keys) {
    for (const std::string& path : {base + ".key", base + ".pub"}) {  // none or both are written
        if (::access(path.c_str(), F_OK) == 0) {
            return Error{Status::exists, path + " exists: not overwriting a key file"};
        }
    }
    const std::string pub = "public-key = \"" + keys.public_key + "\"\n";
    auto secret = write_file(base + ".key",
                             "# cabildo curve key pair: keep this file secret\n" + pub +
                                 "secret-key = \"" + keys.secret_key + "\"\n",
                             0600);
    if (!secret) return secret;
    return write_file(base + ".pub", "# cabildo curve public key\n" + pub, 0644);
}

void make_curve_server(zmq::socket_t& socket, const CurveKeys& keys, const std::string& domain) {
    socket.set(zmq::sockopt::zap_domain, domain);
    socket.set(zmq::sockopt::curve_server, 1);
    socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
}

void make_curve_client(zmq::socket_t& socket, const CurveKeys& keys,
                       const std::string& server_public) {
    socket.set(zmq::sockopt::curve_serverkey, server_public);
    socket.set(zmq::sockopt::curve_publickey, keys.public_key);
    socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
}

}  // namespace cabildo::wire
