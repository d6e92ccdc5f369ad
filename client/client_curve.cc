// ClientCurve (client_curve.h): key loading and socket set-up for clients.
#include "client/client_curve.h"

namespace cabildo::client {

Result<ClientCurve> read_client_curve(const std::string& key_file,
                                      const std::string& server_key_file) {
    if (!wire::curve_available()) {
        return Error{Status::bad_request,
                     "this libzmq was built without CURVE: it cannot reach a secured cluster"};
    }
    Result<wire::CurveKeys> keys = wire::read_key_file(key_file, /*need_secret=*/true);
    if (!keys)
        return keys.error();
    Result<wire::CurveKeys> server = wire::read_key_file(server_key_file, /*need_secret=*/false);
    if (!server)
        return server.error();
    return ClientCurve{std::move(*keys), std::move(server->public_key)};
}

void apply_curve(zmq::socket_t& socket, const std::optional<ClientCurve>& curve) {
    if (curve)
        wire::make_curve_client(socket, curve->keys, curve->server_public);
}

std::string no_answer_hint(bool curve) {
    if (curve) {
        return "is the cluster up? A secured cluster answers only a client key its ACL lists, "
               "and only a client that expects its server key: check both key files";
    }
    return "is the cluster up? A secured cluster answers only CURVE clients whose key its ACL "
           "lists (cabildo --curve-key FILE --server-key FILE)";
}

}  // namespace cabildo::client
