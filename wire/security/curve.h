// CurveZMQ keys and socket set-up, shared by the node, the broker and the
// clients. The cryptography is libzmq's (built with libsodium); this file
// only reads and writes key files and sets socket options.
//
// A key file is text, one `name = "Z85"` per line (40 Z85 characters: a
// 32-byte key); a line whose first `#` comes before any `=` is a comment up
// from there (Z85 itself has `#`, so nothing may follow a key on its line):
//
//     # cabildo curve key pair (keep this file secret)
//     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//     secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
//
// `cabildo keygen NAME` writes NAME.key (both lines, mode 0600) and NAME.pub
// (the public line only). Wherever a public key is wanted, either file does.
#pragma once

#include <string>

#include <zmq.hpp>

#include "node/raft/result.h"

namespace cabildo::wire {

inline constexpr std::size_t curve_key_chars = 40;  // Z85 of 32 bytes

struct CurveKeys {
    std::string public_key;  // Z85
    std::string secret_key;  // Z85; empty when read from a .pub file
};

bool curve_available();  // this libzmq was built with CURVE
// A fresh key pair (libzmq's zmq_curve_keypair).
CurveKeys curve_keypair();
// A 40-character Z85 string that decodes to 32 bytes.
bool is_z85_key(const std::string& text);

// Reads a key file. need_secret: it must hold the secret key (the public
// one is derived if it is missing). The error names the file and says what
// is wrong with it.
Result<CurveKeys> read_key_file(const std::string& path, bool need_secret);
// Writes <base>.key (mode 0600, both keys) and <base>.pub; refuses to
// overwrite an existing file.
Result<bool> write_key_files(const std::string& base, const CurveKeys& keys);

// Server side of CURVE on a socket (before bind): clients must prove a key
// the ZAP handler accepts for `domain` (node/zap_handler.h). The handler
// must be bound in the socket's context first: with none, libzmq lets every
// key in.
void make_curve_server(zmq::socket_t& socket, const CurveKeys& keys, const std::string& domain);
// Client side (before connect): this side's key pair, and the public key the
// server must prove. A server with another key fails the handshake.
void make_curve_client(zmq::socket_t& socket, const CurveKeys& keys,
                       const std::string& server_public);

}  // namespace cabildo::wire
