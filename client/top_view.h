// TopView: the terminal side of `cabildo top`, on ncurses. It only draws a
// TopScreen (top_screen.h) and reads keys; what the lines say is decided
// there. Down nodes' rows are dimmed (A_DIM), the leader's row is bold,
// the column header reversed. Lines are cut at the terminal's width and the
// leader changes at its height, so any size works, and a resize (KEY_RESIZE)
// only asks for a redraw.
//
// At most one TopView exists at a time (ncurses has one screen per
// terminal); its destructor gives the terminal back (endwin).
#pragma once

#include <memory>
#include <string>

#include "client/top_screen.h"

namespace cabildo::client {

enum class TopKey {
    none,    // nothing (or nothing that matters) was typed
    quit,    // q or Q
    redraw,  // the terminal was resized, or Ctrl-L
};

class TopView {
public:
    // Takes over the terminal on stdin/stdout; nullptr (and *error says
    // why) when it is not a usable terminal (no tty, unknown $TERM).
    static std::unique_ptr<TopView> open(std::string* error);
    ~TopView();
    TopView(const TopView&) = delete;
    TopView& operator=(const TopView&) = delete;

    void draw(const TopScreen& screen);
    // Reads every key typed since the last call, without waiting; quit wins.
    TopKey read_keys();
    // The descriptor keys arrive on, for poll().
    int input_fd() const;

private:
    struct Terminal;
    explicit TopView(std::unique_ptr<Terminal> terminal);
    std::unique_ptr<Terminal> terminal_;
};

}  // namespace cabildo::client
