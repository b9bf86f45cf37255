// The page at / (web/, compiled into the binary by lookout_embed): every
// file of web/ at /<name>, index.html also at /. Public, like health and
// metrics: the page asks for the API key itself when /api/detect needs one.
#pragma once

#include <string>

namespace httplib {
class Server;
}

namespace lookout::server {

// Registers GET / and GET /<file> for the embedded web UI.
void install_web_ui(httplib::Server& svr);

// True for the paths install_web_ui serves: the metrics count them all as "/".
bool is_web_ui_path(const std::string& path);

}  // namespace lookout::server
